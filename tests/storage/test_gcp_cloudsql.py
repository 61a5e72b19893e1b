"""Cloud SQL through the real Google client libraries (authorised requests session, Cloud KMS
REST transport), pointed at a local server replaying recorded API answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.config import parse_config
from auditor.model import Result, Status, TargetStatus
from auditor.runner import run_scan
from tests.support.replay import load_recording, replay_server

TOKEN = "canary-gcp-token-77ab"
CHECKS = {"storage.gcp_cloudsql_encrypted", "keys.kms_key_rotation"}
KEY = "projects/agentauri/locations/europe-west1/keyRings/db/cryptoKeys/cloudsql-tde"


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GCP_TOKEN", TOKEN)


def scan(recording: str, instance: str) -> tuple[dict[str, Result], TargetStatus, list[str]]:
    with replay_server(recording) as replay:
        text = (
            "targets:\n  - name: gcp\n    kind: gcp-cloudsql\n    project: agentauri\n"
            f"    instance: {instance}\n    access_token: {{env: GCP_TOKEN}}\n"
            f"    sqladmin_endpoint: '{replay.url}'\n    kms_endpoint: '{replay.url}'\n"
        )
        results, _ = run_scan(parse_config(text, "gcp.yaml"), Path.cwd(), check_ids=CHECKS)
        methods = [m for m, _, _ in replay.requests]
        assert all(h.get("authorization") == f"Bearer {TOKEN}" for _, _, h in replay.requests)
    return {r.check_id: r for r in results.findings}, results.targets[0].status, methods


def test_compliant_instance_passes_with_cmek_rotation() -> None:
    found, status, methods = scan("gcp-cloudsql-compliant", "agentauri-prod")
    assert status is TargetStatus.SCANNED
    assert set(methods) == {"GET"} and len(methods) == 2  # instance + its CMEK key
    storage = found["storage.gcp_cloudsql_encrypted"]
    assert storage.status is Status.PASS
    assert storage.message == (f"agentauri-prod: disk encrypted (CMEK {KEY}), sslMode "
                               "ENCRYPTED_ONLY, backups and PITR on")
    rotation = found["keys.kms_key_rotation"]
    assert rotation.status is Status.PASS and rotation.message == f"{KEY}: rotates every 90 days"
    assert TOKEN not in repr(found)


def test_weak_instance_fails_on_tls_pitr_and_key_rotation() -> None:
    found, _, _ = scan("gcp-cloudsql-weak", "legacy-sql")
    storage = found["storage.gcp_cloudsql_encrypted"]
    assert storage.status is Status.FAIL
    assert storage.message == ("legacy-sql: sslMode = ALLOW_UNENCRYPTED_AND_ENCRYPTED "
                               "(unencrypted connections allowed); point-in-time recovery "
                               "disabled")
    rotation = found["keys.kms_key_rotation"]
    assert rotation.status is Status.FAIL
    assert rotation.message == f"{KEY}: no rotation period (never rotates)"


def test_missing_instance_is_a_target_error() -> None:
    found, status, _ = scan("gcp-cloudsql-compliant", "nope")
    assert status is TargetStatus.ERROR
    assert {r.message for r in found.values()} == {
        "target error: Cloud SQL instance 'nope' not found in project 'agentauri'"}


def test_denied_cmek_key_names_the_permission() -> None:
    # Over REST a 403 arrives as api_core's Forbidden (HTTP), not PermissionDenied (gRPC).
    recording = load_recording("gcp-cloudsql-compliant")
    for interaction in recording["interactions"]:
        if interaction["path"].endswith("/cryptoKeys/cloudsql-tde"):
            interaction["status"] = 403
            interaction["body"] = {"error": {
                "code": 403, "status": "PERMISSION_DENIED",
                "message": f"Permission 'cloudkms.cryptoKeys.get' denied on resource '{KEY}' "
                           "(or it may not exist)."}}
    with replay_server(recording) as replay:
        text = (
            "targets:\n  - name: gcp\n    kind: gcp-cloudsql\n    project: agentauri\n"
            "    instance: agentauri-prod\n    access_token: {env: GCP_TOKEN}\n"
            f"    sqladmin_endpoint: '{replay.url}'\n    kms_endpoint: '{replay.url}'\n"
        )
        results, _ = run_scan(parse_config(text, "gcp.yaml"), Path.cwd(),
                              check_ids={"keys.kms_key_rotation"})
    (rotation,) = results.findings
    assert (rotation.status, rotation.message) == (
        Status.SKIP, "needs IAM permission cloudkms.cryptoKeys.get")
