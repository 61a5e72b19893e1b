"""`kind: azure` and `kind: gcp` discovery through the real Azure and Google client libraries,
pointed at the local replay server with recorded list answers (fixtures/cloud/*-discovery.json:
ARM subscriptions and flexibleServers lists paged through nextLink, sqladmin instances.list
paged through nextPageToken) and a subscription / project whose listing is denied."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from auditor.config import parse_config
from auditor.gate import EXIT_INCOMPLETE, exit_code
from auditor.lab.certs import CertSpec, IssuedCerts, issue
from auditor.model import ScanResults, Severity, Status, TargetStatus
from auditor.runner import run_scan
from tests.spine.test_cli import SCHEMA, run_cli
from tests.support.replay import Replay, replay_server

SUB1, SUB2 = "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"
AZ_TOKEN, GCP_TOKEN = "canary-azure-token-51c0", "canary-gcp-token-e3a9"


@pytest.fixture(autouse=True)
def tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZ_TOKEN", AZ_TOKEN)
    monkeypatch.setenv("GCP_TOKEN", GCP_TOKEN)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> IssuedCerts:
    return issue(tmp_path_factory.mktemp("arm-tls"), CertSpec(hostnames=("localhost",)))


@pytest.fixture
def arm(certs: IssuedCerts) -> Iterator[Replay]:
    with replay_server("azure-discovery", (certs.server_cert, certs.server_key)) as replay:
        yield replay


def scan(text: str, checks: set[str]) -> ScanResults:
    results, _ = run_scan(parse_config(text, "estate.yaml"), Path.cwd(), check_ids=checks)
    return results


def azure(replay: Replay, certs: IssuedCerts, extra: str = "") -> str:
    return (
        "targets:\n  - name: az\n    kind: azure\n    access_token: {env: AZ_TOKEN}\n"
        f"    management_endpoint: '{replay.url}'\n    ca_bundle: '{certs.ca_cert}'\n" + extra
    )


def test_azure_finds_flexible_servers_across_pages_filtered(
    arm: Replay, certs: IssuedCerts
) -> None:
    results = scan(
        azure(arm, certs, "    resource_groups: [AgentAuri-Prod]\n    tags: {env: prod}\n"),
        {"storage.azure_postgres_encrypted"},
    )
    found = {t.name: t for t in results.targets if t.kind == "azure-postgres"}
    # orders-pg on the first page, ledger-pg behind the nextLink; scratch-pg is in another
    # resource group, test-pg is tagged dev
    assert sorted(found) == ["az/agentauri-prod/ledger-pg", "az/agentauri-prod/orders-pg"]
    for name, outcome in found.items():
        assert outcome.status is TargetStatus.SCANNED, outcome.error
        asset = (outcome.inventory or {})["asset"]
        server = name.rsplit("/", 1)[1]
        assert asset["endpoint"] == f"{server}.postgres.database.azure.com:5432"
        assert asset["resource_id"].endswith(f"/flexibleServers/{server}")
        verdict = next(r for r in results.findings if r.target == name)
        assert verdict.check_id == "storage.azure_postgres_encrypted"
        assert verdict.status is Status.PASS, verdict.message
    # the second subscription (behind the subscriptions nextLink) may not list servers
    denied = next(t for t in results.targets if t.name == f"az/{SUB2}")
    assert denied.status is TargetStatus.ERROR and denied.kind == "azure"
    assert denied.error == (
        f"subscription {SUB2}: listing flexible servers: AuthorizationFailed (HTTP 403)"
    )
    summary = next(t for t in results.targets if t.name == "az")
    assert (summary.inventory or {})["discovery"]["scopes_listed"] == 1  # SUB3 is disabled
    assert exit_code(results, Severity.HIGH) == EXIT_INCOMPLETE
    assert {m for m, _, _ in arm.requests} == {"GET"}
    assert all(h.get("authorization") == f"Bearer {AZ_TOKEN}" for _, _, h in arm.requests)
    assert AZ_TOKEN not in repr(results)


def test_azure_listed_subscription_without_filters(arm: Replay, certs: IssuedCerts) -> None:
    results = scan(
        azure(arm, certs, f"    subscriptions: ['{SUB1}']\n"), {"storage.azure_postgres_encrypted"}
    )
    assert sorted(t.name for t in results.targets) == [
        "az",
        "az/agentauri-prod/ledger-pg",
        "az/agentauri-prod/orders-pg",
        "az/agentauri-prod/test-pg",
        "az/sandbox/scratch-pg",
    ]
    assert not any(path == "/subscriptions" for _, path, _ in arm.requests)
    assert exit_code(results, Severity.HIGH) == 0


def gcp(replay: Replay, extra: str = "") -> str:
    return (
        "targets:\n  - name: gcp\n    kind: gcp\n    projects: [agentauri, agentauri-locked]\n"
        f"    access_token: {{env: GCP_TOKEN}}\n    sqladmin_endpoint: '{replay.url}'\n" + extra
    )


def test_gcp_finds_postgresql_instances_across_pages_skips_other_engines() -> None:
    with replay_server("gcp-discovery") as replay:
        config = gcp(replay, "    instance_labels: {env: prod}\n")
        results = scan(config, {"storage.gcp_cloudsql_encrypted"})
        requests = list(replay.requests)
    found = {t.name: t for t in results.targets if t.kind == "gcp-cloudsql"}
    # orders on the first page, ledger behind nextPageToken; shop (MySQL) and reports
    # (SQL Server) are skipped, sandbox is labelled dev
    assert sorted(found) == ["gcp/agentauri/ledger", "gcp/agentauri/orders"]
    for name, outcome in found.items():
        assert outcome.status is TargetStatus.SCANNED, outcome.error
        asset = (outcome.inventory or {})["asset"]
        instance = name.rsplit("/", 1)[1]
        assert asset["endpoint"] == f"{instance}.abcdef.europe-west1.sql.goog:5432"
        assert asset["resource_id"] == f"agentauri:{instance}"
        verdict = next(r for r in results.findings if r.target == name)
        assert verdict.status is Status.PASS, verdict.message
    denied = next(t for t in results.targets if t.name == "gcp/agentauri-locked")
    assert denied.status is TargetStatus.ERROR and denied.error == (
        "project agentauri-locked: listing Cloud SQL instances: permission denied "
        "(HTTP 403; needs cloudsql.instances.list)"
    )
    summary = next(t for t in results.targets if t.name == "gcp")
    assert (summary.inventory or {})["discovery"]["skipped"] == {
        "MYSQL_8_0": 1,
        "SQLSERVER_2019_STANDARD": 1,
        "unusable identifier": 1,  # a name that would be a path: never requested
    }
    assert not any(".." in path for _, path, _ in requests)
    listed = [p for _, p, _ in requests if p == "/v1/projects/agentauri/instances"]
    assert len(listed) == 2  # both pages
    assert GCP_TOKEN not in repr(results)
    assert exit_code(results, Severity.HIGH) == EXIT_INCOMPLETE


def test_cli_scan_reports_the_denied_project_and_exits_3(tmp_path: Path) -> None:
    """End to end: the scan goes on past the denied project, the terminal report names it in
    one line, the JSON results carry it, and the exit code says the estate is incomplete."""
    with replay_server("gcp-discovery") as replay:
        config = tmp_path / "estate.yaml"
        config.write_text(gcp(replay, "    instance_labels: {env: prod}\n"))
        proc = run_cli(
            "scan",
            "-c",
            str(config),
            "--check",
            "storage.gcp_cloudsql_encrypted",
            "--format",
            "terminal",
            "--format",
            "json",
            "-o",
            str(tmp_path / "out"),
            env={"GCP_TOKEN": GCP_TOKEN},
        )
    assert proc.returncode == EXIT_INCOMPLETE, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    denied = [line for line in proc.stdout.splitlines() if "agentauri-locked" in line]
    assert denied == [
        "target gcp/agentauri-locked (gcp): error - project agentauri-locked: listing Cloud SQL "
        "instances: permission denied (HTTP 403; needs cloudsql.instances.list)"
    ]
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    jsonschema.validate(saved, json.loads(SCHEMA.read_text()))
    names = {t["name"]: t["status"] for t in saved["targets"]}
    assert names == {
        "gcp": "scanned",
        "gcp/agentauri-locked": "error",
        "gcp/agentauri/ledger": "scanned",
        "gcp/agentauri/orders": "scanned",
    }
    # SARIF anchors: what discovery found points at the discovery target's config line
    anchors = {t["name"]: t.get("declared_at") for t in saved["targets"]}
    assert set(anchors.values()) == {"estate.yaml:2"}, anchors
    assert GCP_TOKEN not in proc.stdout + proc.stderr


def test_gcp_throttled_project_is_one_error_line_and_the_rest_is_scanned() -> None:
    with replay_server("gcp-discovery") as replay:
        text = gcp(replay).replace("agentauri-locked", "agentauri-busy")
        results = scan(text, {"storage.gcp_cloudsql_encrypted"})
    busy = next(t for t in results.targets if t.name == "gcp/agentauri-busy")
    assert busy.status is TargetStatus.ERROR
    assert busy.error == "project agentauri-busy: listing Cloud SQL instances: throttled (HTTP 429)"
    assert sorted(t.name for t in results.targets if t.kind == "gcp-cloudsql") == [
        "gcp/agentauri/ledger",
        "gcp/agentauri/orders",
        "gcp/agentauri/sandbox",
    ]
