"""The scanner's password never crosses the network in clear unless the DSN says so, and an
inline DSN password (with '#', '/', '?', '&', '@') never shows, whole or in pieces, in
errors, logs or reports."""

from __future__ import annotations

import os
import re
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from auditor.collectors.base import CollectContext
from auditor.collectors.pg.session import ConnectFailed, PgSession
from auditor.config import ConfigError, parse_config
from auditor.lab.cluster import Cluster
from auditor.model import TargetStatus
from auditor.runner import login_warnings, run_scan
from tests.conftest import AUDITOR_PASSWORD, target_yaml
from tests.hostile.conftest import CANARY_PASSWORD

CANARY_PIECES = [p for p in re.split(r"[#/?&@]", CANARY_PASSWORD)]
HANG = 240


def _leaks(text: str) -> list[str]:
    encoded = quote(CANARY_PASSWORD, safe="")
    return [p for p in [CANARY_PASSWORD, encoded, *CANARY_PIECES] if p in text]


class PasswordCatcher:
    """A fake PostgreSQL server with no TLS that asks for a cleartext password and keeps it."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.caught: list[bytes] = []
        self.startups = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                try:
                    self._one(conn)
                except OSError:
                    continue

    def _one(self, conn: socket.socket) -> None:
        length, code = struct.unpack("!II", _exact(conn, 8))
        if code == 80877103:  # SSLRequest: no TLS here
            conn.sendall(b"N")
            head = _exact(conn, 8)  # the client either gives up here or carries on in clear
            length, code = struct.unpack("!II", head)
        _exact(conn, length - 8)
        self.startups += 1
        conn.sendall(b"R" + struct.pack("!II", 8, 3))  # AuthenticationCleartextPassword
        kind = _exact(conn, 1)
        size = struct.unpack("!I", _exact(conn, 4))[0]
        if kind == b"p":
            self.caught.append(_exact(conn, size - 4).rstrip(b"\0"))

    def close(self) -> None:
        self.listener.close()


def _exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data


@pytest.fixture
def catcher() -> Iterator[PasswordCatcher]:
    server = PasswordCatcher()
    yield server
    server.close()


def _open(dsn: str, password: str | None = AUDITOR_PASSWORD) -> PgSession:
    target = parse_config("targets:\n" + target_yaml("t", dsn), "t.yaml").targets[0]
    return PgSession.open(CollectContext(target, password, Path.cwd()))


def test_by_default_no_password_goes_to_a_server_without_tls(catcher: PasswordCatcher) -> None:
    with pytest.raises(ConnectFailed) as refused:
        _open(f"postgresql://auditor@127.0.0.1:{catcher.port}/app")
    assert "server does not support SSL, but SSL was required" in refused.value.reason
    assert catcher.caught == [] and catcher.startups == 0
    # Control, and the documented opt-out: an explicit sslmode=prefer does send it.
    with pytest.raises(ConnectFailed):
        _open(f"postgresql://auditor@127.0.0.1:{catcher.port}/app?sslmode=prefer")
    assert catcher.caught == [AUDITOR_PASSWORD.encode()]


def test_pgsslmode_is_a_choice_too(
    catcher: PasswordCatcher,
    compliant_cluster: Cluster,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """PGSSLMODE counts as the user's choice: verify-full is not weakened to require, and
    prefer is an opt-out (warned about) like one in the DSN."""
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.postgresql/root.crt
    monkeypatch.delenv("PGSSLROOTCERT", raising=False)
    dsn = f"postgresql://auditor@localhost:{compliant_cluster.port}/app"
    _open(dsn).close()  # require: encrypted, certificate not checked
    monkeypatch.setenv("PGSSLMODE", "verify-full")
    with pytest.raises(ConnectFailed, match="root certificate file"):
        _open(dsn)
    monkeypatch.setenv("PGSSLMODE", "prefer")
    target = parse_config("targets:\n" + target_yaml("t", dsn), "t.yaml")
    assert login_warnings(target) == [
        "target 't': PGSSLMODE's sslmode=prefer lets the scanner's password cross the network "
        "in clear if the server refuses TLS (remove it to require TLS)"
    ]
    with pytest.raises(ConnectFailed):
        _open(f"postgresql://auditor@127.0.0.1:{catcher.port}/app")
    assert catcher.caught == [AUDITOR_PASSWORD.encode()]


def test_default_scan_of_a_server_without_tls_refuses_and_the_opt_out_works(
    plain_cluster: Cluster, tmp_path: Path
) -> None:
    base = f"postgresql://auditor@127.0.0.1:{plain_cluster.port}/app"
    config = tmp_path / "auditor.yaml"
    config.write_text(
        "targets:\n"
        + "".join(
            [
                target_yaml("default", base, password="{env: AUDITOR_TEST_PW}", tls_probe="false"),
                target_yaml(
                    "opted-out",
                    base + "?sslmode=disable",
                    password="{env: AUDITOR_TEST_PW}",
                    tls_probe="false",
                ),
            ]
        )
    )
    log_before = len(plain_cluster.log_text())
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "auditor",
            "scan",
            "-c",
            str(config),
            "--format",
            "json",
            "-o",
            str(tmp_path / "out"),
            "--check",
            "auth.password_encryption",
        ],
        capture_output=True,
        text=True,
        timeout=HANG,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "AUDITOR_TEST_PW": AUDITOR_PASSWORD},
    )
    assert proc.returncode == 3, proc.stderr
    results = (tmp_path / "out" / "results.json").read_text()
    assert "server does not support SSL, but SSL was required" in results
    assert '"status": "scanned"' in results  # the opted-out target
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert warnings == [
        "auditor: warning: target 'opted-out': the DSN's sslmode=disable lets the scanner's "
        "password cross the network in clear if the server refuses TLS (remove it to require "
        "TLS)"
    ]
    # Only the opted-out target got as far as authenticating.
    log = plain_cluster.log_text()[log_before:]
    assert len(re.findall(r"connection authorized: user=auditor", log)) == 1


def _canary_dsns(port: int) -> dict[str, str]:
    encoded = quote(CANARY_PASSWORD, safe="")
    host = f"127.0.0.1:{port}"
    return {
        "encoded": f"postgresql://canary:{encoded}@{host}/app?sslmode=disable",
        "raw": f"postgresql://canary:{CANARY_PASSWORD}@{host}/app?sslmode=disable",
        "raw-amp-at": f"postgresql://canary:Rt4yHb&Hb6nJc@Jc3sFd@{host}/app?sslmode=disable",
        "param": f"postgresql://canary@{host}/app?sslmode=disable&password={encoded}",
    }


def test_an_inline_password_never_shows_in_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "auditor.yaml"
    config.write_text("targets:\n" + target_yaml("t", _canary_dsns(5432)["raw"]))
    proc = subprocess.run(
        [sys.executable, "-m", "auditor", "scan", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=HANG,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert "percent-encode" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert _leaks(proc.stderr) == []


def test_an_inline_password_never_shows_after_a_failed_login(plain_cluster: Cluster) -> None:
    dsns = _canary_dsns(plain_cluster.port)
    # libpq would split this at the first '@', making the rest part of a "host name": the
    # config refuses it, without quoting any of it.
    with pytest.raises(ConfigError) as refused:
        parse_config("targets:\n" + target_yaml("amp", dsns["raw-amp-at"]), "t.yaml")
    assert "unencoded '@'" in str(refused.value) and _leaks(str(refused.value)) == []
    failing = {
        "no-such-db": dsns["encoded"].replace("/app?", "/nodb?"),
        "param-no-such-db": dsns["param"].replace("/app?", "/nodb?"),
    }
    text = "targets:\n" + "".join(target_yaml(n, d, tls_probe="false") for n, d in failing.items())
    results, bundles = run_scan(parse_config(text, "t.yaml"), Path.cwd())
    for outcome in results.targets:
        assert outcome.status is not TargetStatus.SCANNED, outcome.name
        assert outcome.error
        assert _leaks(outcome.error) == [], outcome
    everything = repr(results) + "".join(repr(b.sections) for b in bundles)
    assert _leaks(everything) == []


def test_an_inline_password_never_shows_in_a_successful_scans_reports(
    plain_cluster: Cluster, tmp_path: Path
) -> None:
    dsns = _canary_dsns(plain_cluster.port)
    config = tmp_path / "auditor.yaml"
    config.write_text(
        "targets:\n"
        + "".join(
            [
                target_yaml("encoded", dsns["encoded"]),
                target_yaml("param", dsns["param"]),
            ]
        )
    )
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "auditor",
            "scan",
            "-c",
            str(config),
            "-o",
            str(out),
            "--format",
            "terminal",
            "--format",
            "json",
            "--format",
            "sarif",
            "--format",
            "junit",
            "--format",
            "csv",
            "--format",
            "html",
            "--save-facts",
            str(tmp_path / "facts"),
        ],
        capture_output=True,
        text=True,
        timeout=HANG,
        stdin=subprocess.DEVNULL,
    )
    results = (out / "results.json").read_text()
    assert results.count('"status": "scanned"') == 2, proc.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "auditor.yaml"]
    assert len(written) >= 6
    for path in written:
        assert _leaks(path.read_text(errors="replace")) == [], path.name
    assert "encoded" in proc.stdout and "param" in proc.stdout  # the terminal report
    assert _leaks(proc.stdout + proc.stderr) == []
