"""transport.certificate_trust judged against libpq itself.

One server (started with OpenSSL at security level 0 so it can serve even an RSA-1024 or SHA-1
certificate) serves each certificate case in turn; for each, the scanner's verdict must be what
libpq says when psycopg connects with `sslmode=verify-full` and the same `sslrootcert`.
"""

from __future__ import annotations

import hashlib
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from auditor.lab.certs import CertSpec, issue, write_crl
from auditor.lab.cluster import Cluster, Variant
from auditor.model import Result, Status
from auditor.runner import run_scan
from auditor.tls.facts import CertificateFacts
from auditor.tls.starttls import SSL_REQUEST
from auditor.tls.verify import explain, level_problems
from tests.conftest import AUDITOR_PASSWORD, PG_VARIANTS, ClusterFactory
from tests.transport.conftest import SECLEVEL0_CONF, config_text, target


@dataclass(frozen=True)
class Case:
    name: str
    cert: bytes
    key: bytes
    root: Path  # what the client trusts (sslrootcert)
    libpq_accepts: bool  # what libpq says, known from its documentation; checked live below
    words: str = ""  # what the failure message must say (reason in words)
    crl: Path | None = None  # sslcrl


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _docs_recipe(folder: Path) -> None:
    """The PostgreSQL docs' self-signed server certificate (section 19.9.5): a CA:TRUE cert."""
    _openssl(
        "req", "-new", "-x509", "-days", "365", "-nodes", "-text", "-out", "server.crt",
        "-keyout", "server.key", "-subj", "/CN=localhost", cwd=folder,
    )  # fmt: skip


def _sha1_leaf(folder: Path) -> None:
    """A CA-signed leaf whose signature is SHA-1 (cryptography refuses to make one)."""
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=SHA1 CA",
        "-keyout", "ca.key", "-out", "ca.crt", cwd=folder,
    )  # fmt: skip
    _openssl(
        "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", "server.key", "-out", "server.csr", cwd=folder,
    )  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-sha1", "-days", "30", "-extfile", "san.ext", "-out", "server.crt",
        cwd=folder,
    )  # fmt: skip


def _cases(base: Path) -> list[Case]:
    def spec_case(name: str, spec: CertSpec, accepts: bool, words: str = "") -> Case:
        made = issue(base / name.replace(" ", "-"), spec)
        cert, key = made.server_cert.read_bytes(), made.server_key.read_bytes()
        return Case(name, cert, key, made.ca_cert, accepts, words)

    good = spec_case("good", CertSpec(), True)
    good_made = issue(base / "good-crl", CertSpec())
    revoked = write_crl(good_made, base / "revoked.crl", revoke_server=True)
    clean = write_crl(good_made, base / "clean.crl", revoke_server=False)
    crl_case = Case(
        "CRL that revokes nothing",
        good_made.server_cert.read_bytes(),
        good_made.server_key.read_bytes(),
        good_made.ca_cert,
        True,
        crl=clean,
    )
    stranger = issue(base / "stranger", CertSpec())
    docs = base / "docs"
    docs.mkdir()
    _docs_recipe(docs)
    sha1 = base / "sha1"
    sha1.mkdir()
    _sha1_leaf(sha1)
    return [
        good,
        crl_case,
        replace(
            crl_case,
            name="revoked in sslcrl",
            libpq_accepts=False,
            words="revoked: a certificate of the chain is listed in the sslcrl CRL",
            crl=revoked,
        ),
        Case(
            "self-signed CA:TRUE as its own root",
            (docs / "server.crt").read_bytes(),
            (docs / "server.key").read_bytes(),
            docs / "server.crt",
            True,
        ),
        Case(
            "untrusted CA",
            good.cert,
            good.key,
            stranger.ca_cert,
            False,
            "its issuer CN=Auditor Test CA is not in the trust store",
        ),
        Case(
            "self-signed, not in the store",
            (docs / "server.crt").read_bytes(),
            (docs / "server.key").read_bytes(),
            good.root,
            False,
            "self-signed and not in the trust store",
        ),
        spec_case(
            "expired", CertSpec(not_before_days=-400, not_after_days=-5), False, "expired on"
        ),
        spec_case(
            "hostname mismatch",
            CertSpec(hostnames=("db.example.com",)),
            False,
            "localhost is not named by the certificate (it names DNS:db.example.com)",
        ),
        spec_case(
            "RSA-1024",
            CertSpec(key_bits=1024),
            False,
            "the server's RSA 1024-bit key is too small at OpenSSL security level 2",
        ),
        Case(
            "SHA-1 signature",
            (sha1 / "server.crt").read_bytes(),
            (sha1 / "server.key").read_bytes(),
            sha1 / "ca.crt",
            False,
            "CN=localhost is signed with SHA1, a digest too weak at OpenSSL security level 2",
        ),
    ]


def _start_at_level_0(start: ClusterFactory, variant: Variant) -> Cluster:
    """A cluster whose postmaster runs OpenSSL at security level 0 (to serve weak keys)."""
    folder = Path(tempfile.mkdtemp(prefix="auditor-seclevel0-"))
    conf = folder / "seclevel0.cnf"
    conf.write_text(SECLEVEL0_CONF)
    conf.chmod(0o644)
    folder.chmod(0o755)
    before = os.environ.get("OPENSSL_CONF")
    os.environ["OPENSSL_CONF"] = str(conf)  # read by the postmaster only (see weak_cert)
    try:
        return start(variant)
    finally:
        if before is None:
            os.environ.pop("OPENSSL_CONF", None)
        else:
            os.environ["OPENSSL_CONF"] = before
        conf.unlink()  # read once, at the postmaster's start
        folder.rmdir()


@pytest.fixture(scope="module")
def server(start_cluster: ClusterFactory) -> Cluster:
    base = Variant.from_dir(PG_VARIANTS / "transport-compliant", tls=CertSpec())
    return _start_at_level_0(start_cluster, replace(base, name="transport-certcases"))


def _served_fingerprint(port: int) -> str:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(SSL_REQUEST)
        assert sock.recv(1) == b"S"
        with ctx.wrap_socket(sock) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).hexdigest()


def _serve(cluster: Cluster, case: Case) -> None:
    assert cluster.certs is not None
    cluster.certs.server_cert.write_bytes(case.cert)
    cluster.certs.server_key.write_bytes(case.key)
    cluster.reload()
    leaf = x509.load_pem_x509_certificate(case.cert)  # `-text` output has a preamble
    want = leaf.fingerprint(hashes.SHA256()).hex()
    deadline = time.monotonic() + 15
    while _served_fingerprint(cluster.port) != want:
        assert time.monotonic() < deadline, f"{case.name}: the server never served the new cert"
        time.sleep(0.1)


_LIBPQ_CONNECT = """
import sys, psycopg
try:
    psycopg.connect(sys.argv[1], password=sys.argv[2], connect_timeout=5).close()
except psycopg.OperationalError as exc:
    print(str(exc).strip().splitlines()[-1])
    sys.exit(1)
print("connected")
"""


def _libpq(cluster: Cluster, root: Path, crl: Path | None) -> tuple[bool, str]:
    """libpq's own verdict, in a fresh process: this one's libpq may have initialised OpenSSL
    while a fixture had OPENSSL_CONF pointing at security level 0 (see weak_cert)."""
    dsn = (
        f"host=localhost hostaddr=127.0.0.1 port={cluster.port} dbname=app user=auditor "
        f"sslmode=verify-full sslrootcert={root}" + (f" sslcrl={crl}" if crl else "")
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENSSL_CONF"}
    proc = subprocess.run(
        [sys.executable, "-c", _LIBPQ_CONNECT, dsn, AUDITOR_PASSWORD],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    return proc.returncode == 0, (proc.stdout or proc.stderr).strip()


def _trust(cluster: Cluster, root: Path, crl: Path | None = None) -> Result:
    dsn = (
        f"postgresql://auditor@localhost:{cluster.port}/app?hostaddr=127.0.0.1"
        f"&sslmode=verify-full&sslrootcert={root}" + (f"&sslcrl={crl}" if crl else "")
    )
    results, _ = run_scan(
        config_text(target("case", dsn)),
        Path.cwd(),
        workers=1,
        check_ids={"transport.certificate_trust"},
    )
    (only,) = results.findings
    return only


def test_certificate_trust_agrees_with_libpq_in_every_case(server: Cluster, tmp_path: Path) -> None:
    cases = _cases(tmp_path)
    disagreements: list[str] = []
    for case in cases:
        _serve(server, case)
        libpq_ok, libpq_says = _libpq(server, case.root, case.crl)
        # The expectation written in the case is libpq's documented behaviour; the live libpq
        # must say the same, or the case is not testing what it claims.
        assert libpq_ok is case.libpq_accepts, f"{case.name}: libpq said {libpq_says}"
        result = _trust(server, case.root, case.crl)
        scanner_ok = result.status is Status.PASS
        if scanner_ok != libpq_ok:
            disagreements.append(f"{case.name}: scanner {result.status}, libpq {libpq_says}")
            continue
        if not libpq_ok:
            assert result.status is Status.FAIL, (case.name, result.message)
            assert case.words in result.message, (case.name, result.message)
            # Reasons in words, never a library's repr.
            assert "<Certificate" not in result.message and "encountered" not in result.message
        else:
            assert "security level 2, as libpq verify-full would" in result.message
            assert result.evidence["openssl_reason"] is None
    assert disagreements == []


def test_tls10_only_server_is_judged_at_level_0_with_level_2_rules(
    start_cluster: ClusterFactory,
) -> None:
    # libpq's defaults (TLS 1.2+, security level 2) cannot connect to this server at all; the
    # chain is still judged, with the default level's key rules, and the message says how.
    base = Variant.from_dir(PG_VARIANTS / "transport-compliant", tls=CertSpec(key_bits=1024))
    settings = (
        "ssl_min_protocol_version = 'TLSv1'\nssl_max_protocol_version = 'TLSv1.1'\n"
        "ssl_ciphers = 'ECDHE-RSA-AES128-SHA:@SECLEVEL=0'\n"
    )
    cluster = _start_at_level_0(
        start_cluster, replace(base, name="transport-tls10-only", settings=settings)
    )
    result = _trust(cluster, cluster.certs.ca_cert if cluster.certs else Path("/"))
    assert result.status is Status.FAIL
    assert (
        "the server's RSA 1024-bit key is too small at OpenSSL security level 2" in result.message
    )
    assert "libpq with its defaults could not connect at all" in result.message
    assert result.evidence["libpq_defaults_could_not_connect"]
    assert result.evidence["openssl_verify_code"] == 66


def test_docs_recipe_certificate_is_a_ca() -> None:
    # The point of the self-signed case: libpq accepts a CA:TRUE certificate as its own root,
    # which X.509 path-validation libraries that forbid a CA as the leaf refuse.
    folder = Path(tempfile.mkdtemp(prefix="auditor-docs-recipe-"))
    _docs_recipe(folder)
    text = subprocess.run(
        ["openssl", "x509", "-in", str(folder / "server.crt"), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "CA:TRUE" in text
    for name in ("server.crt", "server.key"):
        (folder / name).unlink()
    folder.rmdir()


def _cert(subject: str, issuer: str, key: tuple[str, int], digest: str) -> CertificateFacts:
    return CertificateFacts(
        subject=subject,
        issuer=issuer,
        serial_number="1",
        sha256_fingerprint="00",
        not_before="2026-01-01T00:00:00Z",
        not_after="2027-01-01T00:00:00Z",
        days_left=30,
        key_type=key[0],
        key_bits=key[1],
        signature_hash=digest,
        self_signed=subject == issuer,
    )


def test_default_level_rules_for_chains_verified_at_level_0() -> None:
    # Used only when libpq's defaults cannot connect at all (a TLS 1.0-only server): the same
    # rules OpenSSL applies at level 2, in the same words.
    leaf = _cert("CN=db", "CN=CA", ("rsa", 1024), "sha1")
    root = _cert("CN=CA", "CN=CA", ("rsa", 2048), "sha1")  # a root's own signature: not judged
    assert level_problems((leaf, root), 2) == [
        (66, "the server's RSA 1024-bit key is too small at OpenSSL security level 2 "
         "(needs RSA 2048+ or EC 224+ bits)"),
        (68, "CN=db is signed with SHA1, a digest too weak at OpenSSL security level 2"),
    ]  # fmt: skip
    strong = _cert("CN=db", "CN=CA", ("ec", 256), "sha256")
    assert level_problems((strong, root), 2) == []
    weak_ca = _cert("CN=Mid", "CN=CA", ("rsa", 1024), "sha256")
    assert [code for code, _ in level_problems((strong, weak_ca, root), 2)] == [67]


def test_unknown_openssl_errors_keep_openssl_words() -> None:
    leaf = _cert("CN=db", "CN=CA", ("rsa", 2048), "sha256")
    assert explain(99, "some new reason", (leaf,), 2) == "OpenSSL: some new reason"
    assert explain(20, "unable to get local issuer certificate", (leaf,), 2) == (
        "its issuer CN=CA is not in the trust store (OpenSSL: unable to get local issuer "
        "certificate)"
    )
