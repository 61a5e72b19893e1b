"""The vocabulary every layer shares: severities, statuses, results and a finished scan.

Results are frozen so that formatters, history and waivers can never change what a check
observed; they only derive new objects from it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse; used for --fail-on gating and sorting."""
        return _SEVERITY_RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class Status(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    SKIP = "skip"
    MANUAL = "manual"
    WAIVED = "waived"


class TargetStatus(enum.StrEnum):
    SCANNED = "scanned"
    UNREACHABLE = "unreachable"
    ERROR = "error"


@dataclass(frozen=True)
class ControlRef:
    framework: str
    id: str


@dataclass(frozen=True)
class Result:
    """One verdict of one check about one target (and optionally one resource in it)."""

    check_id: str
    target: str
    status: Status
    severity: Severity
    title: str
    message: str
    resource: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    remediation: str = ""
    controls: tuple[ControlRef, ...] = ()
    # For failures recorded in a history store: first_seen, first_seen_run, last_seen,
    # age_days (auditor/store/lifecycle.py); None when no history was consulted.
    lifecycle: dict[str, Any] | None = None

    def with_controls(self, controls: tuple[ControlRef, ...]) -> Result:
        return replace(self, controls=controls)

    @property
    def sort_key(self) -> tuple[str, str, str]:
        return (self.target, self.check_id, self.resource or "")


@dataclass(frozen=True)
class TargetOutcome:
    """How far scanning one target got; `error` is a one-line reason, never a traceback."""

    name: str
    kind: str
    status: TargetStatus
    error: str | None = None
    # Where the config declares this target ("path/auditor.yaml:12", repo-relative), so
    # code-scanning tools can anchor its findings to a file line; None for --dsn scans.
    declared_at: str | None = None
    # What was examined and as whom (asset inventory, scanning role and its privileges);
    # None for results written before it was recorded.
    inventory: dict[str, Any] | None = None
    # The target's labels from the config (env, bu, owner...); None when it has none.
    labels: dict[str, str] | None = None
    # For one database of a server target (named `server/database`): the server target's
    # name and the database's (auditor/server_scan.py); None for every other target.
    server: str | None = None
    database: str | None = None


@dataclass(frozen=True)
class ScanResults:
    """A finished scan: what formatters, gates and history consume."""

    run_id: str
    started_at: str
    finished_at: str
    targets: tuple[TargetOutcome, ...]
    findings: tuple[Result, ...]
    tool_version: str
    config_digest: str | None = None
    # The check ids this run selected (None: unknown, results written before scopes were
    # recorded). History compares two runs only within the checks both selected.
    scope: tuple[str, ...] | None = None
    # Who ran the scan, where, under which policy (auditor/report_model.py shows it).
    run_metadata: dict[str, Any] | None = None
    # The DSSE envelope signed at scan time (auditor/signing.py); carried unchanged by re-renders.
    attestation: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        by_status = {s.value: 0 for s in Status}
        failed_by_severity = {s.value: 0 for s in Severity}
        for f in self.findings:
            by_status[f.status.value] += 1
            if f.status is Status.FAIL:
                failed_by_severity[f.severity.value] += 1
        return {
            "targets": len(self.targets),
            "targets_scanned": sum(t.status is TargetStatus.SCANNED for t in self.targets),
            "findings": len(self.findings),
            "by_status": by_status,
            "failed_by_severity": failed_by_severity,
        }
