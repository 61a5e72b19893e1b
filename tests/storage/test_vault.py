"""Secret rotation in HashiCorp Vault KV v2 through the real hvac client, against a local
server replaying recorded metadata answers (fixtures/cloud/vault-kv2.json)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.config import parse_config
from auditor.model import Result, Status, TargetStatus
from auditor.runner import run_scan
from tests.support.replay import replay_server

TOKEN = "hvs.canary-vault-token-31c4"
PREFIX = "agentauri/prod/database"


def scan(address: str | None = None) -> tuple[dict[tuple[str, str | None], Result],
                                               TargetStatus, list[tuple[str, str]]]:
    with replay_server("vault-kv2") as replay:
        text = (
            "targets:\n  - name: vault\n    kind: vault\n"
            f"    address: '{address or replay.url}'\n    token: {{env: VAULT_TEST_TOKEN}}\n"
            "    secrets:\n"
            f"      - {{name: {PREFIX}/encryption-key-v1, purpose: encryption-key}}\n"
            f"      - {{name: {PREFIX}/master-password, purpose: master-password}}\n"
            f"      - {{name: {PREFIX}/kms-key-arn, max_age_days: 365}}\n"
            f"      - {{name: {PREFIX}/retired, max_age_days: 30}}\n"
        )
        results, _ = run_scan(parse_config(text, "vault.yaml"), Path.cwd(),
                              check_ids={"keys.secret_rotation_age",
                                         "keys.auto_rotation_enabled"})
        seen = [(m, p) for m, p, h in replay.requests if h.get("x-vault-token") == TOKEN]
        assert len(seen) == len(replay.requests)  # every call carried the token
    return ({(r.check_id, r.resource): r for r in results.findings},
            results.targets[0].status, seen)


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_TEST_TOKEN", TOKEN)


def test_rotation_ages_from_kv2_metadata() -> None:
    found, status, seen = scan()
    assert status is TargetStatus.SCANNED
    # Only metadata endpoints, never /data/ (the values).
    assert seen and all(method == "GET" and "/metadata/" in path for method, path in seen)
    key = found[("keys.secret_rotation_age", f"{PREFIX}/encryption-key-v1")]
    assert (key.status, key.message) == (
        Status.PASS, f"{PREFIX}/encryption-key-v1: last rotated 45 days ago (policy 365)")
    master = found[("keys.secret_rotation_age", f"{PREFIX}/master-password")]
    assert (master.status, master.message) == (
        Status.FAIL, f"{PREFIX}/master-password: created, never rotated 200 days ago (policy 90)")
    denied = found[("keys.secret_rotation_age", f"{PREFIX}/kms-key-arn")]
    assert denied.status is Status.SKIP
    assert denied.message == (
        f"needs Vault policy capability 'read' on secret/metadata/{PREFIX}/kms-key-arn")
    missing = found[("keys.secret_rotation_age", f"{PREFIX}/retired")]
    assert missing.status is Status.FAIL and "does not exist" in missing.message
    auto = found[("keys.auto_rotation_enabled", f"{PREFIX}/encryption-key-v1")]
    assert auto.status is Status.MANUAL  # KV v2 cannot rotate by itself: attest the job
    assert TOKEN not in repr(found)


def test_unreachable_vault_is_marked() -> None:
    found, status, _ = scan(address="http://127.0.0.1:9")
    assert status is TargetStatus.UNREACHABLE
    assert all("cannot reach Vault at http://127.0.0.1:9" in r.message for r in found.values())
