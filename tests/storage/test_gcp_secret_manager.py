"""Secret rotation in Google Secret Manager for `gcp-cloudsql` targets, through the real
google-cloud-secret-manager client (REST transport) pointed at a local server replaying
recorded secrets.get / versions.list answers (fixtures/cloud/gcp-secret-manager-*.json).
The Cloud SQL instance itself is served by a second replay server, as the two APIs live on
different hosts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.config import ConfigError, parse_config
from auditor.model import Result, Status, TargetStatus
from auditor.runner import run_scan
from tests.support.replay import replay_server

TOKEN = "canary-gcp-token-4c0d"
CANARY = "canary-gcp-secret-payload-5f1e"  # the payload recorded behind versions/*:access
CHECKS = {"keys.secret_rotation_age", "keys.auto_rotation_enabled"}
Found = dict[tuple[str, str | None], Result]


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GCP_TOKEN", TOKEN)


def config(sql_url: str, sm_url: str, instance: str, secrets: list[str]) -> str:
    lines = "".join(f"      - {s}\n" for s in secrets)
    return (
        "targets:\n  - name: gcp\n    kind: gcp-cloudsql\n    project: agentauri\n"
        f"    instance: {instance}\n    access_token: {{env: GCP_TOKEN}}\n"
        f"    sqladmin_endpoint: '{sql_url}'\n    kms_endpoint: '{sql_url}'\n"
        f"    secretmanager_endpoint: '{sm_url}'\n    secrets:\n{lines}"
    )


def scan(sql: str, recording: str, instance: str, secrets: list[str]
         ) -> tuple[Found, TargetStatus, list[tuple[str, str]], str]:
    with replay_server(sql) as cloudsql, replay_server(recording) as sm:
        text = config(cloudsql.url, sm.url, instance, secrets)
        results, bundles = run_scan(parse_config(text, "gcp.yaml"), Path.cwd(),
                                    check_ids=CHECKS)
        assert all(h.get("authorization") == f"Bearer {TOKEN}" for _, _, h in sm.requests)
        calls = [(m, p) for m, p, _ in sm.requests]
    facts = json.dumps([b.to_json() for b in bundles])
    found = {(r.check_id, r.resource): r for r in results.findings}
    return found, results.targets[0].status, calls, facts


COMPLIANT = [
    "{name: agentauri-db-encryption-key, purpose: encryption-key}",
    "{name: projects/agentauri/secrets/agentauri-db-master-password, purpose: master-password}",
]
WEAK = [
    "{name: legacy-db-master-password, purpose: master-password}",
    "{name: legacy-db-encryption-key, purpose: encryption-key}",
    "{name: retired-db-password, purpose: master-password}",
    "{name: audit-hmac-key, max_age_days: 365}",
    "{name: projects/agentauri-shared/secrets/kms-wrapping-key, purpose: encryption-key}",
]


def test_compliant_secrets_pass_age_and_rotation_schedule() -> None:
    found, status, calls, facts = scan("gcp-cloudsql-compliant", "gcp-secret-manager-compliant",
                                       "agentauri-prod", COMPLIANT)
    assert status is TargetStatus.SCANNED
    enc = "agentauri-db-encryption-key"
    master = "projects/agentauri/secrets/agentauri-db-master-password"
    age = found[("keys.secret_rotation_age", enc)]
    # Newest ENABLED version (3) is the last rotation; disabled/destroyed ones are history.
    assert (age.status, age.message) == (
        Status.PASS, f"{enc}: last rotated 45 days ago (policy 365)")
    assert age.evidence["reference"] == f"projects/agentauri/secrets/{enc}"
    assert age.evidence["created"] is not None
    age = found[("keys.secret_rotation_age", master)]
    assert (age.status, age.message) == (
        Status.PASS, f"{master}: last rotated 20 days ago (policy 90)")
    auto = found[("keys.auto_rotation_enabled", master)]
    assert auto.status is Status.PASS
    assert auto.message == (f"{master}: rotates every 90 days (Secret Manager publishes "
                            "SECRET_ROTATE to its Pub/Sub topics)")
    assert auto.evidence["rotation_after_days"] == 90 and auto.evidence["next_rotation"]
    assert found[("keys.auto_rotation_enabled", enc)].status is Status.PASS
    # Metadata only: secrets.get and versions.list, never versions.access (the payload).
    assert {m for m, _ in calls} == {"GET"}
    assert sorted(p for _, p in calls) == sorted(
        f"/v1/projects/agentauri/secrets/{s}{suffix}"
        for s in (enc, "agentauri-db-master-password") for suffix in ("", "/versions"))
    assert CANARY not in facts and CANARY not in repr(found) and TOKEN not in repr(found)


def test_weak_secrets_fail_with_evidence_and_denials_name_the_permission() -> None:
    found, status, calls, facts = scan("gcp-cloudsql-weak", "gcp-secret-manager-weak",
                                       "legacy-sql", WEAK)
    assert status is TargetStatus.SCANNED
    master = "legacy-db-master-password"
    age = found[("keys.secret_rotation_age", master)]
    assert (age.status, age.message) == (
        Status.FAIL, f"{master}: created, never rotated 200 days ago (policy 90)")
    assert age.evidence["age_days"] == 200 and age.evidence["last_rotated"] is None
    auto = found[("keys.auto_rotation_enabled", master)]
    assert (auto.status, auto.message) == (Status.FAIL, f"{master}: automatic rotation is off")
    assert auto.evidence["rotation_enabled"] is False
    key = "legacy-db-encryption-key"
    age = found[("keys.secret_rotation_age", key)]
    assert (age.status, age.message) == (
        Status.FAIL, f"{key}: last rotated 400 days ago (policy 365)")
    auto = found[("keys.auto_rotation_enabled", key)]
    assert (auto.status, auto.message) == (
        Status.FAIL, f"{key}: rotates every 730 days (policy 365)")
    missing = found[("keys.secret_rotation_age", "retired-db-password")]
    assert (missing.status, missing.message) == (
        Status.FAIL, "declared secret retired-db-password does not exist")
    denied = found[("keys.secret_rotation_age", "audit-hmac-key")]
    assert (denied.status, denied.message) == (
        Status.SKIP,
        "needs IAM permission secretmanager.versions.list on projects/agentauri/secrets/"
        "audit-hmac-key")
    other = "projects/agentauri-shared/secrets/kms-wrapping-key"
    denied = found[("keys.secret_rotation_age", other)]
    assert (denied.status, denied.message) == (
        Status.SKIP, f"needs IAM permission secretmanager.secrets.get on {other}")
    # Neither missing nor unreadable secrets get an automation verdict of their own.
    assert ("keys.auto_rotation_enabled", other) not in found
    assert not any(p.endswith(":access") for _, p in calls)
    assert CANARY not in facts and CANARY not in repr(found)


def test_no_secrets_declared_skips_without_calling_secret_manager() -> None:
    with replay_server("gcp-cloudsql-compliant") as cloudsql:
        text = (
            "targets:\n  - name: gcp\n    kind: gcp-cloudsql\n    project: agentauri\n"
            "    instance: agentauri-prod\n    access_token: {env: GCP_TOKEN}\n"
            f"    sqladmin_endpoint: '{cloudsql.url}'\n    kms_endpoint: '{cloudsql.url}'\n"
        )
        results, _ = run_scan(parse_config(text, "gcp.yaml"), Path.cwd(), check_ids=CHECKS)
    assert {(r.status, r.message) for r in results.findings} == {
        (Status.SKIP, "no secrets declared for this target")}


def test_unreachable_secret_manager_keeps_the_instance_verdicts() -> None:
    with replay_server("gcp-cloudsql-compliant") as cloudsql:
        text = config(cloudsql.url, "http://127.0.0.1:9", "agentauri-prod", COMPLIANT[:1])
        results, _ = run_scan(parse_config(text, "gcp.yaml"), Path.cwd(),
                              check_ids=CHECKS | {"storage.gcp_cloudsql_encrypted"})
    found = {r.check_id: r for r in results.findings}
    assert results.targets[0].status is TargetStatus.UNREACHABLE
    assert found["storage.gcp_cloudsql_encrypted"].status is Status.PASS
    age = found["keys.secret_rotation_age"]
    assert age.status is Status.ERROR
    assert age.message.startswith("cannot reach the Secret Manager API")


@pytest.mark.parametrize("name", ["a/b", "projects/p/locations/l/secrets/s", "x" * 256])
def test_secret_names_are_validated(name: str) -> None:
    text = ("targets:\n  - name: gcp\n    kind: gcp-cloudsql\n    project: agentauri\n"
            f"    instance: i\n    secrets: [{{name: '{name}'}}]\n")
    with pytest.raises(ConfigError, match="is not a Secret Manager secret"):
        parse_config(text, "gcp.yaml")


def test_a_one_time_rotation_notice_is_not_a_schedule() -> None:
    import datetime as dt

    from google.cloud import secretmanager_v1

    from auditor.collectors.gcp import _rotation

    when = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    once = secretmanager_v1.Secret(rotation={"next_rotation_time": when},
                                   topics=[{"name": "projects/p/topics/t"}])
    assert _rotation(once) == (False, None, "2030-01-01T00:00:00+00:00")
    every = secretmanager_v1.Secret(
        rotation={"next_rotation_time": when, "rotation_period": dt.timedelta(hours=2161)},
        topics=[{"name": "projects/p/topics/t"}])
    assert _rotation(every) == (True, 91, "2030-01-01T00:00:00+00:00")  # rounded up
    assert _rotation(secretmanager_v1.Secret()) == (False, None, None)
