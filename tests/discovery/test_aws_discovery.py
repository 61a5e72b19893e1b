"""`kind: aws` discovery against the moto AWS emulator with IAM enforced: two accounts reached
through assumed roles, two regions, a tag filter, engines that must be skipped, and an
account whose role may not list RDS (its regions become error lines, the rest is scanned)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from auditor.config import parse_config
from auditor.gate import EXIT_INCOMPLETE, exit_code
from auditor.model import ScanResults, Severity, Status, TargetStatus
from auditor.report_model import scope_row
from auditor.runner import run_scan

HOME = "eu-west-1"
REGIONS = ("eu-west-1", "us-east-1")
OPS, BILLING, LOCKED, STRANGER = "111111111111", "222222222222", "333333333333", "444444444444"
ALLOWED = ["rds:Describe*", "ec2:DescribeRegions", "kms:Describe*", "kms:GetKeyRotationStatus"]


def _policy(actions: list[str], resources: list[str] | None = None) -> str:
    statement = {"Effect": "Allow", "Action": actions, "Resource": resources or ["*"]}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _session(credentials: dict[str, str], region: str = HOME) -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"),
        region_name=region,
    )


def _account(account: str, actions: list[str]) -> boto3.session.Session:
    """A session inside `account`, where the role `Auditor` may do `actions`."""
    creds = boto3.client("sts", region_name=HOME).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/Auditor", RoleSessionName="setup"
    )["Credentials"]
    session = _session(creds)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    iam = session.client("iam")
    iam.create_role(RoleName="Auditor", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="Auditor", PolicyName="read", PolicyDocument=_policy(actions))
    return session


def _instance(session: Any, region: str, name: str, engine: str, env: str, **kw: Any) -> None:
    session.client("rds", region_name=region).create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass="db.t3.micro",
        Engine=engine,
        MasterUsername="admin_user",
        MasterUserPassword="not-used-by-tests",
        AllocatedStorage=20,
        StorageEncrypted=True,
        Tags=[{"Key": "env", "Value": env}],
        **kw,
    )


def _cluster(session: Any, region: str, name: str, engine: str, env: str) -> None:
    rds = session.client("rds", region_name=region)
    family = "aurora-postgresql15" if engine == "aurora-postgresql" else "aurora-mysql8.0"
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName=f"{name}-params",
        DBParameterGroupFamily=family,
        Description="tls",
    )
    rds.create_db_cluster(
        DBClusterIdentifier=name,
        Engine=engine,
        MasterUsername="admin_user",
        MasterUserPassword="not-used-by-tests",
        StorageEncrypted=True,
        DBClusterParameterGroupName=f"{name}-params",
        Tags=[{"Key": "env", "Value": env}],
    )


@pytest.fixture
def estate(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Three accounts; the scanner is an IAM user who may only assume the Auditor roles."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": HOME,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        ops = _account(OPS, ALLOWED)
        _instance(ops, "eu-west-1", "orders", "postgres", "prod")
        _instance(ops, "eu-west-1", "legacy-shop", "mysql", "prod")  # not PostgreSQL
        _instance(ops, "eu-west-1", "scratch", "postgres", "dev")  # filtered out by tag
        _cluster(ops, "us-east-1", "ledger", "aurora-postgresql", "prod")
        _cluster(ops, "us-east-1", "sessions", "aurora-mysql", "prod")  # not PostgreSQL
        billing = _account(BILLING, ALLOWED)
        _instance(billing, "us-east-1", "invoices", "postgres", "prod")
        locked = _account(LOCKED, ["ec2:DescribeRegions"])  # may not read RDS
        _instance(locked, "eu-west-1", "hidden", "postgres", "prod")
        iam = boto3.client("iam", region_name=HOME)
        iam.create_user(UserName="scanner")
        roles = [f"arn:aws:iam::{a}:role/Auditor" for a in (OPS, BILLING, LOCKED)]
        iam.put_user_policy(
            UserName="scanner",
            PolicyName="assume",
            PolicyDocument=_policy(["sts:AssumeRole"], roles),
        )
        key = iam.create_access_key(UserName="scanner")["AccessKey"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        yield


def discover(config: str, **kw: Any) -> ScanResults:
    """A storage-only scan with IAM enforced from its first request."""

    def scan() -> ScanResults:
        results, _ = run_scan(
            parse_config(config, "aws.yaml"),
            Path.cwd(),
            check_ids={"storage.aws_rds_encrypted"},
            **kw,
        )
        return results

    enforced: ScanResults = set_initial_no_auth_action_count(0)(scan)()
    return enforced


def config(
    accounts: tuple[str, ...],
    regions: tuple[str, ...] | None = REGIONS,
    extra: str = "    tags: {env: prod}\n",
) -> str:
    roles = ", ".join(f"'arn:aws:iam::{a}:role/Auditor'" for a in accounts)
    text = f"targets:\n  - name: estate\n    kind: aws\n    role_arns: [{roles}]\n" + extra
    if regions is not None:
        text += f"    regions: [{', '.join(regions)}]\n"
    return text


def test_finds_exactly_the_postgresql_databases_each_one_asset(estate: None) -> None:
    results = discover(config((OPS, BILLING)))
    scanned = {t.name: t for t in results.targets if t.kind == "aws-rds"}
    assert sorted(scanned) == [
        f"estate/{OPS}/eu-west-1/orders",
        f"estate/{OPS}/us-east-1/ledger",
        f"estate/{BILLING}/us-east-1/invoices",
    ]
    for name, outcome in scanned.items():
        assert outcome.status is TargetStatus.SCANNED, outcome.error
        assert outcome.inventory is not None
        asset = outcome.inventory["asset"]
        assert asset["name"] == name and asset["parts"] == ["aws-rds"]
        assert asset["endpoint"].endswith(".rds.amazonaws.com:5432")
        assert asset["resource_id"].startswith(f"arn:aws:rds:{name.split('/')[2]}:")
        verdicts = [r for r in results.findings if r.target == name]
        assert [(r.check_id, r.status) for r in verdicts] == [
            ("storage.aws_rds_encrypted", Status.PASS)
        ]
    ledger = scanned[f"estate/{OPS}/us-east-1/ledger"].inventory or {}
    assert ":cluster:ledger" in ledger["asset"]["resource_id"]  # Aurora: the cluster itself
    summary = next(t for t in results.targets if t.name == "estate")
    assert summary.kind == "aws" and summary.status is TargetStatus.SCANNED
    assert summary.inventory == {
        "discovery": {
            "scopes_listed": 4,
            "scopes_failed": 0,
            "databases": sorted(scanned),
            "skipped": {"aurora-mysql": 1, "mysql": 1},
        }
    }
    assert (
        "discovered",
        "3 PostgreSQL database(s) in 4 scope(s), 0 failed; other engines "
        "skipped: aurora-mysql 1, mysql 1",
    ) in scope_row(summary).facts
    assert exit_code(results, Severity.HIGH) == 0


def test_denied_account_is_an_error_line_per_region_and_the_rest_is_scanned(
    estate: None,
) -> None:
    results = discover(config((OPS, LOCKED, STRANGER)))
    errors = {t.name: t for t in results.targets if t.status is not TargetStatus.SCANNED}
    assert sorted(errors) == [
        f"estate/{LOCKED}/eu-west-1",
        f"estate/{LOCKED}/us-east-1",
        f"estate/{STRANGER}",
    ]
    denied = errors[f"estate/{LOCKED}/eu-west-1"].error or ""
    assert denied.startswith(
        f"account {LOCKED} region eu-west-1: listing RDS databases: AccessDenied: "
    )
    assert "rds:DescribeDBInstances" in denied
    stranger = errors[f"estate/{STRANGER}"].error or ""
    assert stranger.startswith(
        f"account {STRANGER}: assuming role arn:aws:iam::{STRANGER}:role/Auditor: AccessDenied"
    )
    assert all("\n" not in (t.error or "") for t in errors.values())
    assert all(t.kind == "aws" and t.status is TargetStatus.ERROR for t in errors.values())
    # the account that may read is scanned in full; nothing of the locked one leaks through
    assert sorted(t.name for t in results.targets if t.kind == "aws-rds") == [
        f"estate/{OPS}/eu-west-1/orders",
        f"estate/{OPS}/us-east-1/ledger",
    ]
    assert exit_code(results, Severity.HIGH) == EXIT_INCOMPLETE


def test_all_enabled_regions_when_none_are_listed(estate: None) -> None:
    results = discover(config((BILLING,), regions=None, extra=""))
    summary = next(t for t in results.targets if t.name == "estate")
    assert summary.inventory is not None
    listed = summary.inventory["discovery"]["scopes_listed"]
    assert listed > len(REGIONS)  # every region ec2:DescribeRegions reports
    assert [t.name for t in results.targets if t.kind == "aws-rds"] == [
        f"estate/{BILLING}/us-east-1/invoices"
    ]


def test_no_tag_filter_finds_every_postgresql_database(estate: None) -> None:
    results = discover(config((OPS,), extra=""))
    assert sorted(t.name.rsplit("/", 1)[1] for t in results.targets if t.kind == "aws-rds") == [
        "ledger",
        "orders",
        "scratch",
    ]


def test_accounts_of_the_organization(monkeypatch: pytest.MonkeyPatch) -> None:
    """organization_role: every active account of the AWS Organization is scanned through
    that role (moto without IAM enforcement: its roles need not exist)."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": HOME,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        org = boto3.client("organizations", region_name=HOME)
        org.create_organization(FeatureSet="ALL")
        members = []
        for n in (1, 2):
            status = org.create_account(Email=f"team{n}@example.com", AccountName=f"team{n}")
            members.append(status["CreateAccountStatus"]["AccountId"])
        for account in members:
            creds = boto3.client("sts", region_name=HOME).assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                RoleSessionName="setup",
            )["Credentials"]
            _instance(_session(creds), HOME, f"db-{account[-4:]}", "postgres", "prod")
        text = (
            "targets:\n  - name: org\n    kind: aws\n    regions: [eu-west-1]\n"
            "    organization_role: OrganizationAccountAccessRole\n"
        )
        results, _ = run_scan(
            parse_config(text, "org.yaml"), Path.cwd(), check_ids={"storage.aws_rds_encrypted"}
        )
    scanned = sorted(t.name for t in results.targets if t.kind == "aws-rds")
    assert scanned == sorted(f"org/{a}/eu-west-1/db-{a[-4:]}" for a in members)
    assert all(t.status is TargetStatus.SCANNED for t in results.targets), results.targets
    summary = next(t for t in results.targets if t.name == "org")
    assert (summary.inventory or {})["discovery"]["scopes_listed"] == 3  # management + 2


def test_unreachable_endpoint_is_one_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    text = (
        "targets:\n  - name: estate\n    kind: aws\n    regions: [eu-west-1]\n"
        f"    endpoint_url: 'http://127.0.0.1:{port}'\n"
    )
    results, _ = run_scan(
        parse_config(text, "aws.yaml"), Path.cwd(), check_ids={"storage.aws_rds_encrypted"}
    )
    failed = [t for t in results.targets if t.status is not TargetStatus.SCANNED]
    assert [(t.name, t.status, t.error) for t in failed] == [
        (
            "estate/default",
            TargetStatus.UNREACHABLE,
            "default credentials: sts:GetCallerIdentity: cannot reach the AWS endpoint",
        )
    ]
    assert exit_code(results, Severity.HIGH) == EXIT_INCOMPLETE
