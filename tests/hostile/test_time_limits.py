"""A server that accepts the login and then stops answering is marked timed out, and the
`auditor scan` process still exits. Subprocesses run with a generous timeout, so that a
regression fails the test instead of hanging CI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.collectors.base import CollectContext
from auditor.collectors.pg.session import ConnectFailed, PgSession
from auditor.config import parse_config
from auditor.lab.cluster import Cluster
from tests.conftest import AUDITOR_PASSWORD, target_yaml
from tests.hostile.stall_proxy import StallProxy

# Far above every bound under test: reaching it means the process hung.
HANG = 240


@pytest.fixture
def proxy(plain_cluster: Cluster) -> Iterator[StallProxy]:
    with StallProxy(plain_cluster.port) as running:
        yield running


def _scan(tmp_path: Path, targets: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    config = tmp_path / "auditor.yaml"
    config.write_text("targets:\n" + targets)
    out = tmp_path / "out"
    env = {**os.environ, "AUDITOR_TEST_PW": AUDITOR_PASSWORD}
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
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=HANG,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    results = out / "results.json"
    assert results.exists(), proc.stderr
    return proc, json.loads(results.read_text())


def _target(report: dict, name: str) -> dict:
    return next(t for t in report["targets"] if t["name"] == name)


def test_a_server_that_stops_answering_after_login_is_timed_out(
    proxy: StallProxy, tmp_path: Path
) -> None:
    targets = target_yaml(
        "stalls",
        f"postgresql://auditor@127.0.0.1:{proxy.port}/app?sslmode=disable",
        password="{env: AUDITOR_TEST_PW}",
        connect_timeout_seconds=2,
        statement_timeout_ms=1000,
        target_timeout_seconds=HANG,
    )
    proc, report = _scan(tmp_path, targets)
    assert proxy.stalled.is_set()  # it did log in and send a query that was never answered
    assert proc.returncode == 3, proc.stderr
    stalled = _target(report, "stalls")
    assert stalled["status"] == "error"
    assert stalled["error"].startswith("timed out: no answer from the server within 3 s")
    assert "Traceback" not in proc.stderr
    # The TLS probe met a handshake that never completes: bounded by the connect timeout,
    # reported as such, never a pass.
    expiry = next(f for f in report["findings"] if f["check_id"] == "transport.certificate_expiry")
    assert expiry["status"] == "error"
    assert "handshake got no answer within 2 s" in expiry["message"]


def test_the_process_exits_while_a_connect_still_waits(tmp_path: Path) -> None:
    """The target's budget cuts it off while libpq would still wait 10 minutes; the stuck
    worker must not keep the process alive."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        targets = target_yaml(
            "silent",
            f"postgresql://auditor@127.0.0.1:{port}/app",
            password="{env: AUDITOR_TEST_PW}",
            connect_timeout_seconds=600,
            target_timeout_seconds=2,
        )
        proc, report = _scan(tmp_path, targets)
    assert proc.returncode == 3, proc.stderr
    assert _target(report, "silent")["error"] == "timed out after 2 s"


def test_a_tls_handshake_that_hangs_is_bounded_by_the_connect_timeout(
    proxy: StallProxy,
) -> None:
    # Default sslmode (require): the proxy answers 'S' to the SSLRequest, then nothing.
    text = "targets:\n" + target_yaml(
        "tls-hangs",
        f"postgresql://auditor@127.0.0.1:{proxy.port}/app",
        connect_timeout_seconds=2,
    )
    target = parse_config(text, "t.yaml").targets[0]
    with pytest.raises(ConnectFailed) as failed:
        PgSession.open(CollectContext(target, AUDITOR_PASSWORD, Path.cwd()))
    assert failed.value.unreachable
    assert "timeout expired" in failed.value.reason
