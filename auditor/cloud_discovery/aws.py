"""AWS discovery: every RDS PostgreSQL instance and Aurora PostgreSQL cluster in the listed
regions (default: every region enabled for the account, ec2:DescribeRegions) of each account,
reached through the default credentials or a role assumed per account (sts:AssumeRole, with an
external id), optionally every active account of the AWS Organization.

Read-only: sts:AssumeRole/GetCallerIdentity, organizations:ListAccounts, ec2:DescribeRegions,
rds:DescribeDBInstances, rds:DescribeDBClusters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from auditor.cloud_discovery.found import (
    Discovered,
    ScopeError,
    one_line,
    plain_identifier,
    tags_match,
)
from auditor.config import AwsDiscoveryTarget, AwsRdsTarget, AwsRole
from auditor.model import TargetStatus

INSTANCE_ENGINES = frozenset({"postgres"})
# Aurora PostgreSQL; "postgres" clusters are Multi-AZ DB clusters (their instances are
# listed with a DBClusterIdentifier and scanned through the cluster).
CLUSTER_ENGINES = frozenset({"aurora-postgresql", "postgres"})
SCOPE_WORKERS = 8


@dataclass(frozen=True)
class Account:
    label: str  # the account id, or "default" while unknown
    session: Any  # boto3 Session
    role: AwsRole | None


def _config() -> Any:
    from botocore.config import Config

    return Config(
        retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=10, read_timeout=30
    )


def explain(exc: Exception, action: str) -> tuple[TargetStatus, str]:
    """One line for a failed AWS call: the API error code (AccessDenied, Throttling...) and
    its message, or why the endpoint could not be reached."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(exc, NoCredentialsError):
        return TargetStatus.ERROR, f"{action}: no AWS credentials found"
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return TargetStatus.UNREACHABLE, f"{action}: cannot reach the AWS endpoint"
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = err.get("Code", "error")
        return TargetStatus.ERROR, one_line(f"{action}: {code}: {err.get('Message', '')}")
    return TargetStatus.ERROR, one_line(f"{action}: {type(exc).__name__}: {exc}")


def _account_id(role_arn: str) -> str:
    return role_arn.split(":")[4]


class _Clients:
    """boto3 sessions are not safe to create clients from concurrently; clients are."""

    def __init__(self, endpoint_url: str | None) -> None:
        self.endpoint_url = endpoint_url
        self.config = _config()
        self.lock = threading.Lock()

    def client(self, session: Any, service: str, region: str | None) -> Any:
        with self.lock:
            return session.client(
                service, region_name=region, endpoint_url=self.endpoint_url, config=self.config
            )


def discover_aws(target: AwsDiscoveryTarget) -> Discovered:
    import boto3

    clients = _Clients(target.endpoint_url)
    base = boto3.session.Session(profile_name=target.profile)
    home = base.region_name or "us-east-1"
    found = Discovered()
    accounts = list(_accounts(target, base, home, clients, found))
    scopes: list[tuple[Account, str]] = []
    for account in accounts:
        regions = _regions(target, account, home, clients, found)
        scopes.extend((account, region) for region in regions)

    def scan(scope: tuple[Account, str]) -> Discovered:
        return _region(target, scope[0], scope[1], clients)

    with ThreadPoolExecutor(max_workers=max(1, min(SCOPE_WORKERS, len(scopes)))) as pool:
        for part in pool.map(scan, scopes):
            found.add(part)
    found.targets.sort(key=lambda t: t.name)
    return found


def _accounts(
    target: AwsDiscoveryTarget, base: Any, home: str, clients: _Clients, found: Discovered
) -> Iterator[Account]:
    from auditor.collectors.aws import assumed_session

    roles = target.roles()
    if target.organization_role:
        roles.extend(_organization_roles(target, base, home, clients, found, roles))
    if not roles and not target.organization_role:
        try:
            ident = clients.client(base, "sts", home).get_caller_identity()
        except Exception as exc:
            status, reason = explain(exc, "default credentials: sts:GetCallerIdentity")
            found.errors.append(ScopeError("default", reason, status))
            return
        yield Account(str(ident["Account"]), base, None)
        return
    for role in roles:
        account = _account_id(role.arn)
        try:
            session = assumed_session(
                base, role.arn, role.external_id, home, target.endpoint_url, clients.config
            )
        except Exception as exc:
            status, reason = explain(exc, f"account {account}: assuming role {role.arn}")
            found.errors.append(ScopeError(account, reason, status))
            continue
        yield Account(account, session, role)


def _organization_roles(
    target: AwsDiscoveryTarget,
    base: Any,
    home: str,
    clients: _Clients,
    found: Discovered,
    listed: list[AwsRole],
) -> list[AwsRole]:
    already = {_account_id(r.arn) for r in listed}
    try:
        org = clients.client(base, "organizations", home)
        partition = clients.client(base, "sts", home).get_caller_identity()["Arn"].split(":")[1]
        accounts = [
            a
            for page in org.get_paginator("list_accounts").paginate()
            for a in page.get("Accounts", [])
            if a.get("Status") == "ACTIVE"
        ]
    except Exception as exc:
        status, reason = explain(exc, "organization: organizations:ListAccounts")
        found.errors.append(ScopeError("organization", reason, status))
        return []
    return [
        AwsRole(
            arn=f"arn:{partition}:iam::{a['Id']}:role/{target.organization_role}",
            external_id=target.external_id,
        )
        for a in sorted(accounts, key=lambda a: str(a["Id"]))
        if a["Id"] not in already
    ]


def _regions(
    target: AwsDiscoveryTarget, account: Account, home: str, clients: _Clients, found: Discovered
) -> list[str]:
    if target.regions:
        return list(target.regions)
    try:
        answer = clients.client(account.session, "ec2", home).describe_regions()
    except Exception as exc:
        status, reason = explain(exc, f"account {account.label}: ec2:DescribeRegions")
        found.errors.append(ScopeError(account.label, reason, status))
        return []
    return sorted(str(r["RegionName"]) for r in answer.get("Regions", []))


def _tags(item: dict[str, Any]) -> dict[str, str]:
    return {str(t.get("Key")): str(t.get("Value", "")) for t in item.get("TagList") or []}


def _region(
    target: AwsDiscoveryTarget, account: Account, region: str, clients: _Clients
) -> Discovered:
    found = Discovered()
    where = f"account {account.label} region {region}"
    try:
        rds = clients.client(account.session, "rds", region)
        instances = _pages(rds, "describe_db_instances", "DBInstances")
        clusters = _pages(rds, "describe_db_clusters", "DBClusters")
    except Exception as exc:
        status, reason = explain(exc, f"{where}: listing RDS databases")
        found.errors.append(ScopeError(f"{account.label}/{region}", reason, status))
        return found
    found.scopes = 1

    def make(identifier: str, cluster: bool) -> AwsRdsTarget:
        database = AwsRdsTarget(
            name="discovered",  # the full name may be longer than a written one may be
            kind="aws-rds",
            region=region,
            db_instance=None if cluster else identifier,
            db_cluster=identifier if cluster else None,
            profile=target.profile,
            endpoint_url=target.endpoint_url,
            role_arn=account.role.arn if account.role else None,
            external_id=account.role.external_id if account.role else None,
            connect=target.connect,
            labels=target.labels,
            target_timeout_seconds=target.target_timeout_seconds,
        )
        name = f"{target.name}/{account.label}/{region}/{identifier}"
        return database.model_copy(update={"name": name})

    for db in instances:
        engine = str(db.get("Engine") or "?")
        if db.get("DBClusterIdentifier"):
            continue  # an Aurora or Multi-AZ cluster member: the cluster is the database
        if engine not in INSTANCE_ENGINES:
            found.skipped[engine] += 1
        elif (ident := plain_identifier(db.get("DBInstanceIdentifier"))) is None:
            found.skipped["unusable identifier"] += 1
        elif tags_match(target.tags, _tags(db)):
            found.targets.append(make(ident, cluster=False))
    for db in clusters:
        engine = str(db.get("Engine") or "?")
        if engine not in CLUSTER_ENGINES:
            found.skipped[engine] += 1
        elif (ident := plain_identifier(db.get("DBClusterIdentifier"))) is None:
            found.skipped["unusable identifier"] += 1
        elif tags_match(target.tags, _tags(db)):
            found.targets.append(make(ident, cluster=True))
    return found


def _pages(client: Any, operation: str, key: str) -> list[dict[str, Any]]:
    paginate: Callable[..., Any] = client.get_paginator(operation).paginate
    return [item for page in paginate() for item in page.get(key, [])]
