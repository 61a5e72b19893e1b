"""What one discovery target found: per-database targets, failed scopes, skipped engines."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from auditor.config import AwsRdsTarget, AzurePostgresTarget, GcpCloudSqlTarget
from auditor.model import TargetStatus

CloudTarget = AwsRdsTarget | AzurePostgresTarget | GcpCloudSqlTarget


@dataclass(frozen=True)
class ScopeError:
    """An account, region, subscription or project that could not be listed."""

    scope: str  # e.g. "222222222222/eu-west-1": appended to the discovery target's name
    reason: str  # one line naming the scope and what failed, never a secret
    status: TargetStatus = TargetStatus.ERROR


@dataclass
class Discovered:
    targets: list[CloudTarget] = field(default_factory=list)
    errors: list[ScopeError] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # engine -> databases not scanned
    scopes: int = 0  # scopes listed successfully

    def add(self, other: Discovered) -> None:
        self.targets.extend(other.targets)
        self.errors.extend(other.errors)
        self.skipped.update(other.skipped)
        self.scopes += other.scopes


def one_line(text: object, limit: int = 300) -> str:
    said = " ".join(str(text).split())
    return said if len(said) <= limit else said[: limit - 1] + "…"


def tags_match(wanted: dict[str, str], tags: dict[str, str]) -> bool:
    """Every wanted pair is present; a wanted value "*" only asks for the key."""
    return all(k in tags and (v == "*" or tags[k] == v) for k, v in wanted.items())


# What the platforms allow in database, server, instance and resource-group names. A name from
# the API outside this is not used (it would go into request paths and file names).
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._()-]{0,89}")


def plain_identifier(value: object) -> str | None:
    return value if isinstance(value, str) and _IDENTIFIER.fullmatch(value) else None
