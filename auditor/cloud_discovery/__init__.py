"""Cloud discovery: `aws`, `azure` and `gcp` targets stand for every PostgreSQL database the
credential may see in some accounts/regions, subscriptions or projects. Before a scan they are
expanded into the per-database targets (`aws-rds`, `azure-postgres`, `gcp-cloudsql`) that the
existing collectors and checks already know; a discovery target with `connect:` passes it on,
so each database is also scanned in-database as one asset (auditor/cloud_discovery/asset.py).

A scope that cannot be listed (an account whose role cannot be assumed, a region that is
unreachable, denied or throttled) becomes one `error` outcome naming that scope, and the rest
of the estate is scanned.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.cloud_discovery.found import Discovered, ScopeError
from auditor.config import (
    AwsDiscoveryTarget,
    AzureDiscoveryTarget,
    ConfigError,
    GcpDiscoveryTarget,
    ScanConfig,
    Target,
)
from auditor.model import TargetOutcome, TargetStatus

DISCOVERY_KINDS = frozenset({"aws", "azure", "gcp"})

Progress = Callable[[str, str], None]


@dataclass
class Expansion:
    config: ScanConfig  # discovery targets replaced by what they found
    # One per discovery target (what it found) and one per scope that failed.
    outcomes: list[TargetOutcome] = field(default_factory=list)


def _discover(target: Target, config_dir: Path) -> Discovered:
    try:
        token = target.resolve_password(config_dir)
    except ConfigError as exc:
        return Discovered(errors=[ScopeError(target.name, str(exc))])
    if isinstance(target, AwsDiscoveryTarget):
        from auditor.cloud_discovery.aws import discover_aws

        return discover_aws(target)
    if isinstance(target, AzureDiscoveryTarget):
        from auditor.cloud_discovery.azure import discover_azure

        return discover_azure(target, token, config_dir)
    assert isinstance(target, GcpDiscoveryTarget)
    from auditor.cloud_discovery.gcp import discover_gcp

    return discover_gcp(target, token)


def _summary(target: Target, found: Discovered, names: list[str]) -> TargetOutcome:
    inventory: dict[str, Any] = {
        "discovery": {
            "scopes_listed": found.scopes,
            "scopes_failed": len(found.errors),
            "databases": names,
            "skipped": dict(sorted(found.skipped.items())),
        }
    }
    return TargetOutcome(target.name, target.kind, TargetStatus.SCANNED, inventory=inventory)


def expand_discovery(
    config: ScanConfig, config_dir: Path, workers: int = 4, progress: Progress | None = None
) -> Expansion:
    """The config with each discovery target replaced by the databases it found (named
    `<discovery name>/<scope>/<database>`), and the outcomes that report the discovery."""
    discovering = [t for t in config.targets if t.kind in DISCOVERY_KINDS]
    if not discovering:
        return Expansion(config)

    def one(target: Target) -> Discovered:
        if progress:
            progress(target.name, "discovering")
        try:
            return _discover(target, config_dir)
        except Exception as exc:  # a discovery bug must not cost the rest of the scan
            reason = f"discovery failed: {type(exc).__name__}"
            return Discovered(errors=[ScopeError(target.name, reason)])

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(discovering)))) as pool:
        results = dict(zip((t.name for t in discovering), pool.map(one, discovering), strict=True))
    taken = {t.name for t in config.targets}
    targets: list[Target] = []
    outcomes: list[TargetOutcome] = []
    for target in config.targets:
        if target.kind not in DISCOVERY_KINDS:
            targets.append(target)
            continue
        found = results[target.name]
        names = []
        for database in found.targets:
            name = database.name
            while name in taken:  # a declared target of the same name keeps it
                name += "~"
            taken.add(name)
            names.append(name)
            targets.append(database.model_copy(update={"name": name}))
        outcomes.append(_summary(target, found, names))
        for error in found.errors:
            scope = f"{target.name}/{error.scope}"
            outcomes.append(TargetOutcome(scope, target.kind, error.status, error.reason))
        if progress:
            progress(target.name, "done")
    return Expansion(config.model_copy(update={"targets": tuple(targets)}), outcomes)
