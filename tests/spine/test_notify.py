"""`auditor scan --notify-webhook URL`: new failures posted as `{"text": ...}` (what Slack and
Teams incoming webhooks accept) to a real local HTTP server; nothing secret or sampled in the
body; hostile names cannot ping a channel; a webhook that fails is a warning, not a failed
scan."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from auditor import redact
from auditor.lab.cluster import Cluster
from auditor.model import Result, ScanResults, Severity, Status, TargetOutcome, TargetStatus
from auditor.notify import (
    MAX_LISTED,
    NotifyError,
    message_text,
    new_failures,
    notify_new_failures,
    parse_webhook,
)
from tests.conftest import AUDITOR_PASSWORD, target_yaml
from tests.spine.test_cli import run_cli, write_config

CANARY = "canary-S3cr3t-value-77"


class Hook:
    """A local webhook receiver: records each JSON body, answers with `status`."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                assert self.headers.get("Content-Type") == "application/json"
                hook.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(hook.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/XyZ"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook() -> Iterator[Hook]:
    receiver = Hook()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def _results(run_id: str, *findings: Result) -> ScanResults:
    return ScanResults(
        run_id,
        "2026-12-01T00:00:00Z",
        "2026-12-01T00:00:05Z",
        (TargetOutcome("db", "postgres", TargetStatus.SCANNED),),
        findings,
        "0",
    )


def _fail(check_id: str, resource: str | None = None, **kw: Any) -> Result:
    fields: dict[str, Any] = {
        "target": "db",
        "status": Status.FAIL,
        "severity": Severity.HIGH,
        "title": "t",
        "message": "m",
    }
    fields.update(kw)
    return Result(check_id, resource=resource, **fields)


def test_only_failures_absent_from_the_base_are_new() -> None:
    base = _results(
        "a",
        _fail("auth.x"),
        _fail("column.y", "users.email"),
        _fail("column.y", "users.phone", status=Status.PASS),
        _fail("auth.z", status=Status.PASS),
    )
    now = _results(
        "b",
        _fail("auth.x"),  # still failing: not new
        _fail("column.y", "users.email"),
        _fail("column.y", "users.phone", severity=Severity.MEDIUM),
        _fail("auth.z", severity=Severity.CRITICAL),
    )
    assert [(f.check_id, f.resource) for f in new_failures(now, base)] == [
        ("auth.z", None),  # most severe first
        ("column.y", "users.phone"),
    ]
    assert len(new_failures(now, None)) == 4  # nothing to compare with: every failure


def test_the_body_names_no_secret_no_evidence_and_cannot_ping_a_channel(hook: Hook) -> None:
    redact.remember_secret(CANARY)
    results = _results(
        "b",
        _fail(
            "column.sensitive_encrypted",
            resource="<!channel> users.email",
            message=f"sampled value {CANARY} is plaintext",
            evidence={"sample": CANARY},
        ),
        _fail("auth.password_encryption", target=f"db-{CANARY}"),
    )
    line = notify_new_failures(parse_webhook(hook.url), results, None, "every failure")
    assert line == "notify: 2 new failure(s) sent to 127.0.0.1"
    (body,) = hook.bodies
    assert set(body) == {"text"}  # the shape Slack and Teams both accept
    text = body["text"]
    assert CANARY not in json.dumps(body)
    assert "plaintext" not in text and "sampled" not in text  # messages are not sent
    assert "<!channel>" not in text and "&lt;!channel&gt; users.email" in text
    assert text.splitlines()[0] == "Auditor scan b: 2 new failures (every failure)"
    assert "- [high] column.sensitive_encrypted on db / &lt;!channel&gt; users.email" in text


def test_a_long_list_is_cut_with_a_count() -> None:
    many = [_fail("column.y", f"t.c{i:03}") for i in range(MAX_LISTED + 5)]
    text = message_text(_results("b", *many), many, "x")
    assert len(text.splitlines()) == 1 + MAX_LISTED + 1
    assert text.endswith("… and 5 more (see the scan's report)")


def test_delivery_problems_are_one_line_warnings_that_never_echo_the_url(hook: Hook) -> None:
    results = _results("b", _fail("auth.x"))
    hook.status = 500
    line = notify_new_failures(parse_webhook(hook.url), results, None, "x")
    assert line == "warning: notification not sent: HTTP 500 from 127.0.0.1"
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    line = notify_new_failures(
        parse_webhook(f"http://127.0.0.1:{port}/B/tok3n"), results, None, "x"
    )
    assert line.startswith("warning: notification not sent: cannot reach 127.0.0.1: ")
    assert "tok3n" not in line and "\n" not in line


@pytest.mark.parametrize(
    "url", ["ftp://hooks.example/x", "file:///etc/passwd", "hooks.example", "https://"]
)
def test_only_http_urls_with_a_host_are_webhooks(url: str) -> None:
    with pytest.raises(NotifyError, match="must be an https:// "):
        parse_webhook(url)
    # A refused URL is not remembered as a secret: a bare "https://" would otherwise mask the
    # scheme of every URL this process prints later (it did, in other tests' messages).
    assert redact.redact_text("see https://kv.example/keys/k") == "see https://kv.example/keys/k"


def _scan(
    cluster: Cluster, tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    config = write_config(tmp_path, target_yaml("db", cluster.dsn("auditor"), password="{env: PW}"))
    proc = run_cli(
        "scan",
        "-c",
        str(config),
        "--check",
        "auth.password_encryption",
        *args,
        env={"PW": AUDITOR_PASSWORD, **(env or {})},
    )
    assert "Traceback" not in proc.stderr
    return proc


@pytest.mark.slow
def test_a_real_scan_posts_new_failures_once(
    weak_cluster: Cluster, compliant_cluster: Cluster, hook: Hook, tmp_path: Path
) -> None:
    history = tmp_path / "history"
    # First run into an empty history: every failure is new (and the env variable works).
    proc = _scan(
        weak_cluster, tmp_path, "--history", str(history), env={"AUDITOR_NOTIFY_WEBHOOK": hook.url}
    )
    assert proc.returncode == 1, proc.stderr
    assert "auditor: notify: 1 new failure(s) sent to 127.0.0.1" in proc.stderr
    (body,) = hook.bodies
    assert "first run in history" in body["text"]
    assert "- [high] auth.password_encryption on db" in body["text"]
    assert AUDITOR_PASSWORD not in json.dumps(body) and "/B000/XyZ" not in proc.stderr
    # The same weakness again: nothing new, nothing sent.
    proc = _scan(weak_cluster, tmp_path, "--history", str(history), "--notify-webhook", hook.url)
    assert proc.returncode == 1 and "notify: no new failure (since run" in proc.stderr
    assert len(hook.bodies) == 1
    # Against a baseline where the check passed (the compliant server), it is new again.
    baseline = tmp_path / "compliant.json"
    assert (
        _scan(compliant_cluster, tmp_path, "--format", "json", "-o", str(baseline)).returncode == 0
    )
    proc = _scan(weak_cluster, tmp_path, "--baseline", str(baseline), "--notify-webhook", hook.url)
    assert proc.returncode == 1 and len(hook.bodies) == 2
    assert "against baseline" in hook.bodies[1]["text"]


@pytest.mark.slow
def test_a_webhook_that_fails_leaves_the_exit_code_alone(
    weak_cluster: Cluster, hook: Hook, tmp_path: Path
) -> None:
    hook.status = 503
    proc = _scan(weak_cluster, tmp_path, "--notify-webhook", hook.url)
    assert proc.returncode == 1  # the failure gates as it would without a webhook
    warnings = [w for w in proc.stderr.splitlines() if "notification not sent" in w]
    assert warnings == ["auditor: warning: notification not sent: HTTP 503 from 127.0.0.1"]
