"""One cloud database, one asset: a cloud target with `connect:` is scanned through its cloud
API (storage, keys, backups) and then, through the endpoint that API reported, as a PostgreSQL
target of the same name (TLS, settings, roles, columns). Results, outcome and inventory are
joined, so reports show the database once with all its verdicts.

The endpoint is data from the cloud API: it is accepted only as a host name or an IP address.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from auditor.checks.base import Check
from auditor.config import ConnectDetails, PostgresTarget, Target
from auditor.facts import Facts, TargetContext
from auditor.inventory import target_inventory
from auditor.model import TargetOutcome, TargetStatus

_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9][A-Za-z0-9-]{0,62}(?:\.[A-Za-z0-9-]{1,63})*\.?$")
CLOUD_KINDS = frozenset({"aws-rds", "azure-postgres", "gcp-cloudsql"})
# The port each platform serves PostgreSQL on when its API does not report one.
DEFAULT_PORT = 5432

ScanPart = Callable[[Target], Any]  # -> auditor.runner.TargetRun


def connect_details(target: Target) -> ConnectDetails | None:
    connect = getattr(target, "connect", None)
    return connect if isinstance(connect, ConnectDetails) else None


def _valid_host(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return value if _HOST_NAME.fullmatch(value) else None


def reported_endpoint(facts: Facts) -> tuple[str, int] | str:
    """(host, port) where the cloud API says clients connect, or why there is none."""
    section = facts.sections.get("aws_rds")
    if section is not None:
        db = getattr(section, "database", None)
        host, port = getattr(db, "endpoint", None), getattr(db, "port", None)
    elif (section := facts.sections.get("azure_postgres")) is not None:
        host, port = getattr(section, "fqdn", None), None
    elif (section := facts.sections.get("gcp_cloudsql")) is not None:
        addresses = getattr(section, "ip_addresses", ())
        host = getattr(section, "dns_name", None) or (addresses[0] if addresses else None)
        port = None
    else:
        return "the cloud API was not read, so no endpoint is known"
    if host is None:
        return "the cloud API reports no endpoint (a database being created or stopped?)"
    valid = _valid_host(host)
    if valid is None:
        return "the cloud API reports an endpoint that is not a host name or IP address"
    port = port if isinstance(port, int) and 0 < port < 65536 else DEFAULT_PORT
    return valid.rstrip("."), port


def postgres_part(target: Target, connect: ConnectDetails, host: str, port: int) -> PostgresTarget:
    return PostgresTarget(
        name=target.name[:100],
        dsn=connect.dsn(host, port),
        password=connect.password,
        sensitive_columns=connect.sensitive_columns,
        tls_probe=connect.tls_probe,
        connect_timeout_seconds=connect.connect_timeout_seconds,
        target_timeout_seconds=target.target_timeout_seconds,
    ).model_copy(update={"name": target.name})


def scan_asset(target: Target, checks: list[Check], scan_part: ScanPart) -> Any:
    """The joined run of a cloud target with `connect:` (its cloud part first)."""
    from auditor.runner import TargetRun  # the runner imports this module

    connect = connect_details(target)
    assert connect is not None
    cloud = scan_part(target)
    if not any("postgres" in c.kinds for c in checks):
        return cloud  # no in-database check selected: nothing to connect for
    endpoint = reported_endpoint(cloud.facts)
    part: PostgresTarget | str
    if isinstance(endpoint, str):
        part = endpoint
    else:
        try:
            part = postgres_part(target, connect, *endpoint)
        except ValidationError:
            part = "the reported endpoint does not make a valid connection string"
    if isinstance(part, str):
        # The in-database checks were asked for and could not run: each says why.
        context = cloud.facts.target
        facts = Facts(
            target=TargetContext(
                name=target.name, kind="postgres", policy=context.policy, options={}
            )
        )
        reason = f"cannot connect: {part}"
        results = [c.errored(facts, reason) for c in checks if "postgres" in c.kinds]
        pg_outcome = TargetOutcome(target.name, "postgres", TargetStatus.ERROR, reason)
        pg_run = TargetRun(pg_outcome, results, facts)
    else:
        pg_run = scan_part(part)
    return TargetRun(
        outcome=_joined(target, cloud.outcome, pg_run.outcome),
        results=[*cloud.results, *pg_run.results],
        facts=cloud.facts,
        extra_facts=[pg_run.facts],
    )


def _joined(target: Target, cloud: TargetOutcome, pg: TargetOutcome) -> TargetOutcome:
    order = [TargetStatus.SCANNED, TargetStatus.UNREACHABLE, TargetStatus.ERROR]
    status = max(cloud.status, pg.status, key=order.index)
    errors = [
        f"{label}: {outcome.error}"
        for label, outcome in ((target.kind, cloud), ("postgres", pg))
        if outcome.error
    ]
    return TargetOutcome(target.name, target.kind, status, "; ".join(errors) or None)


def asset_inventory(facts: Facts, parts: list[Facts]) -> dict[str, Any]:
    """A target's inventory; a cloud database also gets an `asset` entry tying its cloud
    resource to the PostgreSQL endpoint it was scanned through."""
    inventory = target_inventory(facts)
    if facts.target.kind not in CLOUD_KINDS:
        return inventory
    for part in parts:  # the live server's own view wins (version, database, role)
        inventory = {**inventory, **target_inventory(part)}
    ids = inventory.get("cloud_resource_ids") or [facts.target.name]
    endpoint = reported_endpoint(facts)
    inventory["asset"] = {
        "name": facts.target.name,
        "cloud": facts.target.kind,
        "resource_id": ids[0],
        "endpoint": None if isinstance(endpoint, str) else f"{endpoint[0]}:{endpoint[1]}",
        "parts": [facts.target.kind, *(p.target.kind for p in parts)],
    }
    return inventory
