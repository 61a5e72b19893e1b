"""A target that takes TCP connections but never answers costs the run one connect timeout,
not two: when the TLS probe (which runs first) already waited the whole connect timeout for
an answer, the SQL session does not connect again. A quicker probe, or no probe at all,
leaves the decision to the SQL session as before."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.config import parse_config
from auditor.model import TargetStatus
from auditor.runner import run_scan


class SilentServer:
    """Accepts connections and never writes a byte (a hung server or a black-holing proxy)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted.append(conn)  # held open, never answered

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def scan(port: int, tls_probe: bool = True, probe_timeout: float = 10.0) -> tuple[str, str]:
    text = (
        f"policy:\n  tls_probe_timeout_seconds: {probe_timeout}\n"
        "targets:\n  - name: hung\n"
        f"    dsn: 'postgresql://auditor@127.0.0.1:{port}/app?sslmode=require'\n"
        "    connect_timeout_seconds: 1\n"
        f"    tls_probe: {'true' if tls_probe else 'false'}\n"
    )
    results, _ = run_scan(parse_config(text, "hung.yaml"), Path.cwd())
    (outcome,) = results.targets
    assert outcome.status is TargetStatus.UNREACHABLE
    return outcome.error or "", outcome.status.value


def test_probe_that_waited_the_connect_timeout_spares_the_second_wait(
    silent: SilentServer,
) -> None:
    reason, _ = scan(silent.port)
    assert "no answer to the SSLRequest within 1 s" in reason
    assert "no SQL connection was attempted" in reason
    assert len(silent.accepted) == 1  # the probe's connection only; libpq never came


def test_without_the_probe_the_sql_session_decides(silent: SilentServer) -> None:
    reason, _ = scan(silent.port, tls_probe=False)
    assert "no SQL connection was attempted" not in reason
    assert len(silent.accepted) == 1  # libpq's own attempt


def test_a_probe_quicker_than_the_connect_timeout_proves_nothing(silent: SilentServer) -> None:
    # The probe gave up after 0.5 s: the server may just be slow, so libpq still gets its 1 s.
    reason, _ = scan(silent.port, probe_timeout=0.5)
    assert "no SQL connection was attempted" not in reason
    assert len(silent.accepted) == 2
