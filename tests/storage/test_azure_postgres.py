"""Azure flexible servers through the real Azure SDK, pointed at a local HTTPS server that
replays recorded Resource Manager answers (fixtures/cloud/azure-flexible-server-*.json)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.config import parse_config
from auditor.lab.certs import CertSpec, IssuedCerts, issue
from auditor.model import Result, Status, TargetStatus
from auditor.runner import run_scan
from tests.support.replay import Replay, replay_server

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
TOKEN = "canary-azure-token-9d2e"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> IssuedCerts:
    return issue(tmp_path_factory.mktemp("azure-tls"), CertSpec(hostnames=("localhost",)))


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZ_TOKEN", TOKEN)


def config(replay_url: str, server: str, ca: Path) -> str:
    return (
        "targets:\n  - name: azure\n    kind: azure-postgres\n"
        f"    subscription_id: '{SUBSCRIPTION}'\n    resource_group: agentauri-prod\n"
        f"    server: {server}\n    access_token: {{env: AZ_TOKEN}}\n"
        f"    management_endpoint: '{replay_url}'\n    ca_bundle: '{ca}'\n"
    )


@pytest.fixture
def compliant(certs: IssuedCerts) -> Iterator[Replay]:
    with replay_server("azure-flexible-server-compliant",
                       (certs.server_cert, certs.server_key)) as replay:
        yield replay


@pytest.fixture
def weak(certs: IssuedCerts) -> Iterator[Replay]:
    with replay_server("azure-flexible-server-weak",
                       (certs.server_cert, certs.server_key)) as replay:
        yield replay


def scan(text: str) -> tuple[list[Result], TargetStatus]:
    results, _ = run_scan(parse_config(text, "azure.yaml"), Path.cwd(),
                          check_ids={"storage.azure_postgres_encrypted"})
    return list(results.findings), results.targets[0].status


def test_compliant_flexible_server_passes(token: None, compliant: Replay,
                                          certs: IssuedCerts) -> None:
    findings, status = scan(config(compliant.url, "agentauri-prod", certs.ca_cert))
    assert status is TargetStatus.SCANNED
    (result,) = findings
    assert result.status is Status.PASS, result.message
    assert "customer-managed key https://agentauri-kv.vault.azure.net/keys/pg-tde" in (
        result.message)
    # Read-only, authenticated with the configured token, which never reaches the results.
    assert {method for method, _, _ in compliant.requests} == {"GET"}
    assert all(h.get("authorization") == f"Bearer {TOKEN}" for _, _, h in compliant.requests)
    assert TOKEN not in repr(findings)


def test_weak_flexible_server_fails_naming_each_parameter(token: None, weak: Replay,
                                                          certs: IssuedCerts) -> None:
    findings, _ = scan(config(weak.url, "legacy-pg", certs.ca_cert))
    (result,) = findings
    assert result.status is Status.FAIL
    assert result.message == (
        "legacy-pg: require_secure_transport = off; "
        "ssl_min_protocol_version = TLSv1 (policy TLSv1.2)")
    parameters = result.evidence["parameters"]
    assert parameters["require_secure_transport"]["source"] == "user-override"


def test_unknown_server_is_a_target_error(token: None, compliant: Replay,
                                          certs: IssuedCerts) -> None:
    findings, status = scan(config(compliant.url, "nope", certs.ca_cert))
    assert status is TargetStatus.ERROR
    assert {f.message for f in findings} == {
        "target error: flexible server 'nope' not found in resource group 'agentauri-prod'"}
