"""The Collector interface and how a collector reports that the target itself is unusable."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from auditor.config import PostgresTarget, Target
from auditor.facts import Facts
from auditor.model import TargetStatus
from auditor.policy import Policy


@dataclass(frozen=True)
class TargetProblem:
    """Returned by a collector when the target could not be reached or logged into."""

    status: TargetStatus
    reason: str  # one line, no secrets


@dataclass(frozen=True)
class CollectContext:
    target: Target
    password: str | None  # the resolved credential: password, token (never logged)
    config_dir: Path
    policy: Policy = field(default_factory=Policy)
    # time.monotonic() by which the target must be done (the runner's budget); collectors that
    # can block on the network stop waiting then.
    deadline: float | None = None
    # The fact sections the selected checks read (None: all). Collectors skip the I/O that
    # feeds nothing a narrowed scan will judge: no sampling for a transport-only scan.
    needed: frozenset[str] | None = None

    def wants(self, section: str) -> bool:
        return self.needed is None or section in self.needed

    @property
    def pg(self) -> PostgresTarget:
        """The target as a PostgreSQL target (collectors of kind postgres only)."""
        assert isinstance(self.target, PostgresTarget), self.target.kind
        return self.target


class Collector:
    name: ClassVar[str]
    kinds: ClassVar[frozenset[str]] = frozenset({"postgres"})
    order: ClassVar[int] = 50  # lower runs first
    # The fact sections this collector fills; it is not run when no selected check reads any.
    produces: ClassVar[frozenset[str]] = frozenset()

    def sections(self) -> frozenset[str]:
        return self.produces

    def collect(self, ctx: CollectContext, facts: Facts) -> TargetProblem | None:
        raise NotImplementedError
