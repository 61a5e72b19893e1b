"""One cloud database, one asset: an RDS database with `connect:` is read through the AWS API
(moto) and then scanned in-database and over TLS through the endpoint the API reports,
against a real PostgreSQL 15 cluster whose certificate names that endpoint. Both halves share
one target name, one outcome and one inventory entry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from auditor.config import parse_config
from auditor.lab.certs import CertSpec
from auditor.lab.cluster import Cluster
from auditor.model import ScanResults, Status, TargetStatus
from auditor.report_model import scope_row
from auditor.runner import run_scan
from tests.conftest import AUDITOR_PASSWORD, ClusterFactory
from tests.support.replay import replay_server

REGION = "eu-west-1"
ENDPOINT = f"orders.aaaaaaaaaa.{REGION}.rds.amazonaws.com"  # what moto reports for "orders"
CHECKS = {
    "storage.aws_rds_encrypted",
    "transport.ssl_enabled",
    "transport.certificate_trust",
    "auth.password_encryption",
}


@pytest.fixture(scope="module")
def rds_cluster(start_cluster: ClusterFactory) -> Cluster:
    """The compliant server with a certificate for the RDS endpoint name (not localhost)."""
    return start_cluster("compliant", tls=CertSpec(hostnames=(ENDPOINT,)))


@pytest.fixture
def orders(monkeypatch: pytest.MonkeyPatch, rds_cluster: Cluster) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "PG_PW": AUDITOR_PASSWORD,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        boto3.client("rds", region_name=REGION).create_db_instance(
            DBInstanceIdentifier="orders",
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            MasterUsername="admin_user",
            MasterUserPassword="not-used-by-tests",
            AllocatedStorage=20,
            StorageEncrypted=True,
            Port=rds_cluster.port,
            Tags=[{"Key": "env", "Value": "prod"}],
        )
        yield


def connect(cluster: Cluster, **extra: str) -> str:
    assert cluster.certs is not None
    fields = {
        "user": "auditor",
        "password": "{env: PG_PW}",
        "dbname": "app",
        "sslrootcert": f"'{cluster.certs.ca_cert}'",
        "hostaddr": "127.0.0.1",
        **extra,
    }
    return "{" + ", ".join(f"{k}: {v}" for k, v in fields.items()) + "}"


def scan(text: str, checks: set[str] = CHECKS) -> ScanResults:
    results, _ = run_scan(parse_config(text, "asset.yaml"), Path.cwd(), check_ids=checks)
    return results


def by_check(results: ScanResults, target: str) -> dict[str, Status]:
    return {r.check_id: r.status for r in results.findings if r.target == target}


def test_declared_rds_target_with_connect_is_one_asset(orders: None, rds_cluster: Cluster) -> None:
    results = scan(
        "targets:\n  - name: orders\n    kind: aws-rds\n"
        f"    region: {REGION}\n    db_instance: orders\n    connect: {connect(rds_cluster)}\n"
    )
    assert [(t.name, t.kind, t.status) for t in results.targets] == [
        ("orders", "aws-rds", TargetStatus.SCANNED)
    ]
    # cloud and in-database verdicts under the one name, each for a real reason
    assert by_check(results, "orders") == {
        "storage.aws_rds_encrypted": Status.PASS,
        "transport.ssl_enabled": Status.PASS,
        "transport.certificate_trust": Status.PASS,
        "auth.password_encryption": Status.PASS,
    }
    inventory = results.targets[0].inventory or {}
    assert inventory["asset"] == {
        "name": "orders",
        "cloud": "aws-rds",
        "resource_id": f"arn:aws:rds:{REGION}:123456789012:db:orders",
        "endpoint": f"{ENDPOINT}:{rds_cluster.port}",
        "parts": ["aws-rds", "postgres"],
    }
    assert inventory["database"] == "app" and inventory["role"]["name"] == "auditor"
    assert inventory["server_version"].startswith("15")  # the live server's, not the API's
    # reports list it once, its two parts named
    assert ("asset", f"aws-rds + postgres through {ENDPOINT}:{rds_cluster.port}") in (
        scope_row(results.targets[0]).facts
    )
    assert AUDITOR_PASSWORD not in repr(results)


def test_discovered_database_is_scanned_through_its_reported_endpoint(
    orders: None, rds_cluster: Cluster
) -> None:
    results = scan(
        f"targets:\n  - name: estate\n    kind: aws\n    regions: [{REGION}]\n"
        f"    tags: {{env: prod}}\n    connect: {connect(rds_cluster)}\n"
    )
    name = f"estate/123456789012/{REGION}/orders"
    assert [t.name for t in results.targets] == [name, "estate"]
    assert results.targets[0].status is TargetStatus.SCANNED
    assert set(by_check(results, name).values()) == {Status.PASS}
    assert len(by_check(results, name)) == len(CHECKS)


def test_wrong_certificate_name_fails_trust_under_the_asset(
    orders: None, rds_cluster: Cluster, start_cluster: ClusterFactory
) -> None:
    """The certificate is checked against the name the API reported, not the address used."""
    other = start_cluster("compliant", tls=CertSpec(hostnames=("db.example.com",)))
    boto3.client("rds", region_name=REGION).modify_db_instance(
        DBInstanceIdentifier="orders", DBPortNumber=other.port, ApplyImmediately=True
    )
    results = scan(
        "targets:\n  - name: orders\n    kind: aws-rds\n"
        f"    region: {REGION}\n    db_instance: orders\n"
        f"    connect: {connect(other, sslmode='require')}\n"
    )
    trust = next(r for r in results.findings if r.check_id == "transport.certificate_trust")
    assert trust.target == "orders" and trust.status is Status.FAIL
    assert ENDPOINT in trust.message


def test_unreachable_endpoint_errors_the_in_database_half_only(orders: None) -> None:
    """Without hostaddr the reported name does not resolve here: the cloud verdict stands,
    the in-database checks say why they could not run, and the asset is incomplete."""
    results = scan(
        "targets:\n  - name: orders\n    kind: aws-rds\n"
        f"    region: {REGION}\n    db_instance: orders\n"
        "    connect: {user: auditor, password: {env: PG_PW}, connect_timeout_seconds: 3}\n"
    )
    outcome = results.targets[0]
    assert outcome.name == "orders" and outcome.status is TargetStatus.UNREACHABLE
    assert outcome.error is not None and outcome.error.startswith("postgres: ")
    assert ENDPOINT in outcome.error and "\n" not in outcome.error
    found = by_check(results, "orders")
    assert found.pop("storage.aws_rds_encrypted") is Status.PASS
    assert set(found.values()) == {Status.ERROR}


CLOUD_SQL_NAME = "orders.abcdef.europe-west1.sql.goog"  # the recorded instance's dnsName


def test_cloud_sql_instance_is_one_asset_through_its_dns_name(
    monkeypatch: pytest.MonkeyPatch, start_cluster: ClusterFactory
) -> None:
    """Cloud SQL reports no port: `connect.port` names the local proxy's, while the
    certificate is still checked against the instance's DNS name."""
    cluster = start_cluster("compliant", tls=CertSpec(hostnames=(CLOUD_SQL_NAME,)))
    monkeypatch.setenv("PG_PW", AUDITOR_PASSWORD)
    monkeypatch.setenv("GCP_TOKEN", "canary-gcp-token-0c1d")
    with replay_server("gcp-discovery") as replay:
        results = scan(
            "targets:\n  - name: orders\n    kind: gcp-cloudsql\n    project: agentauri\n"
            f"    instance: orders\n    access_token: {{env: GCP_TOKEN}}\n"
            f"    sqladmin_endpoint: '{replay.url}'\n"
            f"    connect: {connect(cluster, port=str(cluster.port))}\n",
            {"storage.gcp_cloudsql_encrypted", "transport.certificate_trust"},
        )
    assert [(t.name, t.kind, t.status) for t in results.targets] == [
        ("orders", "gcp-cloudsql", TargetStatus.SCANNED)
    ]
    assert by_check(results, "orders") == {
        "storage.gcp_cloudsql_encrypted": Status.PASS,
        "transport.certificate_trust": Status.PASS,
    }
    inventory = results.targets[0].inventory or {}
    assert inventory["asset"]["endpoint"] == f"{CLOUD_SQL_NAME}:5432"
    assert inventory["asset"]["parts"] == ["gcp-cloudsql", "postgres"]
    assert inventory["endpoint"] == f"{CLOUD_SQL_NAME}:{cluster.port}"  # where it connected


def test_missing_database_errors_both_halves_in_one_line(orders: None) -> None:
    """No database, no endpoint: the in-database checks do not pass or vanish, they say why."""
    results = scan(
        "targets:\n  - name: gone\n    kind: aws-rds\n"
        f"    region: {REGION}\n    db_instance: gone\n"
        "    connect: {user: auditor, password: {env: PG_PW}}\n"
    )
    outcome = results.targets[0]
    assert outcome.status is TargetStatus.ERROR
    assert outcome.error == (
        f"aws-rds: 'gone' not found in region {REGION}; postgres: cannot connect: "
        "the cloud API was not read, so no endpoint is known"
    )
    assert set(by_check(results, "gone").values()) == {Status.ERROR}
    assert len(by_check(results, "gone")) == len(CHECKS)
