"""Servers for the transport tests: real clusters with real TLS, plus two tiny fake servers.

Weaknesses share clusters where they do not interfere, to keep the folder fast:
* `transport-compliant`: TLS 1.2+, Mozilla intermediate suites, CA-signed RSA cert with SAN;
* `transport-weak`: TLS 1.0/1.1, CBC-SHA1 and RSA key exchange suites, no TLS 1.3, an expired
  certificate naming another host, a `host` rule and a plaintext client held open;
* `transport-weak-cert`: a self-signed, 1024-bit RSA, SHA-1 certificate (openssl CLI);
* `wide-open`: the benchmark's worst case, TLS 1.0-1.3 and every suite (log_connections on);
* `transport-compliant` with a CA-signed EC P-256 certificate that expires in 60 days;
* an `ssl = off` cluster, a port nobody listens on, and a socket server that answers the
  SSLRequest with 'S' and then hangs up.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from auditor.config import ScanConfig, parse_config
from auditor.lab.certs import CertSpec
from auditor.lab.cluster import Cluster, Variant, free_port
from tests.conftest import AUDITOR_PASSWORD, PG_VARIANTS, ClusterFactory, target_yaml

APP_PASSWORD = "app-test-pw"  # the fixture application's test password (seed.sql)
EXPIRED_WRONG_HOST = CertSpec(
    hostnames=("db.example.com",), not_before_days=-400, not_after_days=-5
)
EC_P256_SOON = CertSpec(key_type="ec", key_bits=256, not_after_days=60)
SECLEVEL0_CONF = """openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
CipherString = DEFAULT:@SECLEVEL=0
"""


HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # pytest resets warning filters per test, so the scanner's own filter for this known
    # trust-store warning (see auditor.tls.certificates) is restated for this folder.
    quiet = pytest.mark.filterwarnings(
        "ignore:Parsed a serial number:cryptography.utils.CryptographyDeprecationWarning"
    )
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(quiet)


@pytest.fixture(scope="session", autouse=True)
def _password() -> Iterator[None]:
    # Session-wide (module-scoped scans run before function-scoped monkeypatching).
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUDITOR_TEST_PW", AUDITOR_PASSWORD)
        yield


def config_text(*targets: str, policy: str = "") -> ScanConfig:
    text = "targets:\n" + "".join(targets) + (f"policy:\n{policy}" if policy else "")
    return parse_config(text, "transport-test.yaml")


def target(name: str, dsn: str, **extra: object) -> str:
    return target_yaml(name, dsn, password="{env: AUDITOR_TEST_PW}", **extra)


@pytest.fixture(scope="session")
def compliant(start_cluster: ClusterFactory) -> Cluster:
    return start_cluster("transport-compliant")


@pytest.fixture(scope="session")
def weak(start_cluster: ClusterFactory) -> Iterator[Cluster]:
    cluster = start_cluster("transport-weak", tls=EXPIRED_WRONG_HOST)
    # An application connected in clear for the whole session (what pg_stat_ssl must show).
    held = psycopg.connect(
        host="127.0.0.1",
        port=cluster.port,
        dbname="app",
        user="app",
        password=APP_PASSWORD,
        sslmode="disable",
        application_name="billing-worker",
    )
    yield cluster
    held.close()


def _give_to_postgres(*paths: Path) -> None:
    if os.geteuid() != 0:
        return
    pw = pwd.getpwnam("postgres")
    for path in paths:
        os.chown(path, pw.pw_uid, pw.pw_gid)


@pytest.fixture(scope="session")
def weak_cert(start_cluster: ClusterFactory) -> Iterator[Cluster]:
    folder = Path(tempfile.mkdtemp(prefix="auditor-weakcert-"))
    folder.chmod(0o755)  # the server user must reach the files
    cert, key, conf = folder / "server.crt", folder / "server.key", folder / "seclevel0.cnf"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:1024",
            "-sha1",
            "-nodes",
            "-days",
            "60",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    key.chmod(0o600)
    conf.write_text(SECLEVEL0_CONF)
    _give_to_postgres(folder, cert, key)
    base = Variant.from_dir(PG_VARIANTS / "transport-weak-cert")
    variant = replace(
        base, settings=base.settings + (f"ssl_cert_file = '{cert}'\nssl_key_file = '{key}'\n")
    )
    # OpenSSL 3 refuses to load a 1024-bit key at the default security level; the server
    # process (not this one, whose OpenSSL is initialised already) reads OPENSSL_CONF.
    before = os.environ.get("OPENSSL_CONF")
    os.environ["OPENSSL_CONF"] = str(conf)
    try:
        cluster = start_cluster(variant)
    finally:
        if before is None:
            os.environ.pop("OPENSSL_CONF", None)
        else:
            os.environ["OPENSSL_CONF"] = before
    yield cluster
    for path in (cert, key, conf):
        path.unlink(missing_ok=True)
    folder.rmdir()


@pytest.fixture(scope="session")
def wide_open(start_cluster: ClusterFactory) -> Cluster:
    """The variant benchmarks/tls_probe.py measures as the probe's worst case."""
    from benchmarks.tls_probe import WIDE_OPEN

    base = Variant.from_dir(PG_VARIANTS / "transport-weak", tls=CertSpec())
    return start_cluster(replace(base, name="wide-open", settings=base.settings + WIDE_OPEN))


@pytest.fixture(scope="session")
def ec_soon(start_cluster: ClusterFactory) -> Cluster:
    return start_cluster("transport-compliant", tls=EC_P256_SOON)


@pytest.fixture(scope="session")
def ssl_off(start_cluster: ClusterFactory) -> Cluster:
    seed = (PG_VARIANTS / "transport-compliant" / "seed.sql").read_text()
    return start_cluster(
        Variant(
            name="transport-ssl-off",
            tls=None,
            seed_sql=seed,
            hba="host all all 127.0.0.1/32 scram-sha-256\n",
        )
    )


@pytest.fixture(scope="session")
def hang_up_port() -> Iterator[int]:
    """A server that answers the SSLRequest with 'S' and closes mid-handshake."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn, contextlib.suppress(OSError):
                conn.settimeout(2)
                conn.recv(8)
                conn.sendall(b"S")
                conn.recv(1)  # the ClientHello's first byte: then hang up on it

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(2)
    listener.close()


@pytest.fixture(scope="session")
def closed_port() -> int:
    return free_port()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@pytest.fixture()
def flaky_front() -> Iterator[Callable[[Cluster], int]]:
    """flaky_front(cluster) -> a port in front of the cluster that hangs up on the first TCP
    connection without answering (a load balancer's hiccup) and forwards every later one."""
    listeners: list[socket.socket] = []

    def start(cluster: Cluster) -> int:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listeners.append(listener)

        def serve() -> None:
            first = True
            with contextlib.suppress(OSError):
                while True:
                    conn, _ = listener.accept()
                    if first:
                        first = False
                        with conn, contextlib.suppress(OSError):
                            conn.settimeout(2)
                            conn.recv(8)  # read the SSLRequest, then hang up (FIN, not RST)
                        continue
                    upstream = socket.create_connection(("127.0.0.1", cluster.port), timeout=10)
                    for a, b in ((conn, upstream), (upstream, conn)):
                        threading.Thread(target=_pump, args=(a, b), daemon=True).start()

        threading.Thread(target=serve, daemon=True).start()
        return int(listener.getsockname()[1])

    yield start
    for listener in listeners:
        listener.close()


def log_lines(cluster: Cluster) -> int:
    return len(cluster.log_text().splitlines())
