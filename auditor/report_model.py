"""The report an auditor reads, computed once from `ScanResults`: control status per framework
(rolled up from the checks that evidence each control), status per layer and per target,
findings grouped by severity, waivers and attestations, and the evidence manifest.

Formatters and templates only loop over this; every decision (roll-up order, sorting, what
counts as attested) lives here, so HTML, PDF and the other formats cannot disagree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

# Re-exported: waivers.py and the formatters take the control vocabulary from here.
from auditor.control_verdicts import ATTESTATION_KEY as ATTESTATION_KEY
from auditor.control_verdicts import CheckEvidence, ControlVerdict, Gap, control_verdicts
from auditor.control_verdicts import ControlStatus as ControlStatus
from auditor.control_verdicts import is_attested as is_attested
from auditor.control_verdicts import roll_up as roll_up
from auditor.frameworks import Framework, frameworks, get_framework
from auditor.manifest import EvidenceEntry, evidence_entries, results_digest
from auditor.model import Result, ScanResults, Severity, Status, TargetOutcome, TargetStatus

LAYERS = ("transport", "auth", "column", "audit", "storage", "keys")
LAYER_TITLES = {
    "transport": "Transport (TLS)",
    "auth": "Authentication and access",
    "column": "Column encryption (pgcrypto)",
    "audit": "Audit trail",
    "storage": "Storage and backups",
    "keys": "Key management",
}
# Evidence keys that waivers.py adds beside what the check observed.
WAIVER_KEY = "waiver"
EXPIRED_WAIVER_KEY = "expired_waiver"
EXPIRED_ATTESTATION_KEY = "expired_attestation"


def status_counts(results: Iterable[Result]) -> dict[str, int]:
    counts = {s.value: 0 for s in Status}
    for r in results:
        counts[r.status.value] += 1
    return counts


def layer_of(check_id: str) -> str:
    return check_id.split(".", 1)[0]


def evidence_lines(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    """Flatten evidence into (dotted key, text) pairs for display; lists of scalars join."""
    lines: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key in value:
                walk(f"{prefix}.{key}" if prefix else str(key), value[key])
        elif isinstance(value, list) and value and any(isinstance(v, dict | list) for v in value):
            for i, item in enumerate(value):
                walk(f"{prefix}[{i}]", item)
        elif isinstance(value, list):
            lines.append((prefix, ", ".join(_scalar(v) for v in value) or "(none)"))
        else:
            lines.append((prefix, _scalar(value)))

    for key in evidence:
        walk(str(key), evidence[key])
    return lines


def expected_actual(result: Result) -> str | None:
    """'expected X, observed Y' when the check recorded its policy value and what it saw."""
    found = result.evidence.get("expected_vs_actual")
    if not isinstance(found, dict) or "expected" not in found:
        return None
    actual = found.get("actual")
    shown = ", ".join(map(_scalar, actual)) if isinstance(actual, list) else _scalar(actual)
    return f"expected {_scalar(found['expected'])}, observed {shown or '(none)'}"


def short_message(result: Result) -> str:
    """The message without a leading copy of the resource it already sits beside."""
    if result.resource:
        for sep in (": ", " — ", " - ", " "):
            if result.message.startswith(result.resource + sep):
                return result.message[len(result.resource) + len(sep) :]
    return result.message


EVIDENCE_TEXT_LIMIT = 700


def evidence_text(
    evidence: dict[str, Any], limit: int = EVIDENCE_TEXT_LIMIT, shown: Iterable[str] = ()
) -> str:
    """Evidence on one line ("key: value · key: value") for listings, cut at `limit`
    characters: a report stays readable (and fast to lay out) when a check records hundreds of
    items; the full block is in results.json, bound to the report by the manifest digest.
    Top-level keys in `shown` are left out: the line beside it already states them."""
    left_out = set(shown)
    kept = {k: v for k, v in evidence.items() if k not in left_out}
    text = " · ".join(f"{k}: {v}" for k, v in evidence_lines(kept))
    if len(text) <= limit:
        return text
    return f"{text[:limit]} … ({len(text) - limit} more characters in results.json)"


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


@dataclass(frozen=True)
class FrameworkView:
    framework: Framework
    rows: tuple[ControlVerdict, ...]

    @property
    def totals(self) -> dict[ControlStatus, int]:
        counts = dict.fromkeys(ControlStatus, 0)
        for row in self.rows:
            counts[row.status] += 1
        return counts


@dataclass(frozen=True)
class GroupView:
    """Results of one layer or one target, with their roll-up."""

    key: str
    title: str
    status: ControlStatus
    counts: dict[str, int]
    # The server target a database part belongs to: shown indented under it.
    part_of: str | None = None


def _target_title(t: TargetOutcome) -> str:
    if t.server is not None:  # one database of a server target, listed under its server
        return f"{t.name} (database {t.database} of {t.server})"
    return f"{t.name} ({t.kind})"


@dataclass(frozen=True)
class CheckGroup:
    """The failures of one check: what it requires and how to fix it, stated once."""

    check_id: str
    title: str
    remediation: str
    controls: tuple[str, ...]  # labels such as "PCI DSS 4.0.1 3.5.1", in report frameworks
    findings: tuple[Result, ...]


@dataclass(frozen=True)
class SeverityGroup:
    severity: Severity
    checks: tuple[CheckGroup, ...]

    @property
    def findings(self) -> tuple[Result, ...]:
        return tuple(f for c in self.checks for f in c.findings)


@dataclass(frozen=True)
class ScopeRow:
    """One examined asset for the report's scope section: what it is and as whom it was read."""

    name: str
    kind: str
    status: str
    error: str | None
    facts: tuple[tuple[str, str], ...]  # (label, value) of the asset inventory
    role: str | None  # the role scanned as, with its privileges, in one line
    part_of: str | None = None  # the server target of a database part


def _yes_no(value: Any) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def _asset_facts(inv: dict[str, Any]) -> list[tuple[str, str]]:
    """A cloud database's parts (one asset: cloud API and in-database), and what a discovery
    target found (auditor/cloud_discovery)."""
    rows = []
    asset = inv.get("asset")
    if isinstance(asset, dict):
        parts = " + ".join(map(str, asset.get("parts") or []))
        via = f" through {asset['endpoint']}" if asset.get("endpoint") else ""
        rows.append(("asset", f"{parts}{via}"))
    found = inv.get("discovery")
    if isinstance(found, dict):
        skipped = ", ".join(f"{k} {v}" for k, v in (found.get("skipped") or {}).items())
        rows.append(
            (
                "discovered",
                f"{len(found.get('databases') or [])} PostgreSQL database(s) in "
                f"{found.get('scopes_listed')} scope(s), {found.get('scopes_failed')} failed"
                + (f"; other engines skipped: {skipped}" if skipped else ""),
            )
        )
    return rows


def scope_row(outcome: TargetOutcome) -> ScopeRow:
    inv = outcome.inventory or {}
    facts: list[tuple[str, str]] = []
    for key, label in (
        ("endpoint", "endpoint"),
        ("database", "database"),
        ("server_version", "server version"),
        ("region", "region"),
        ("host_evidence", "host evidence"),
    ):
        if inv.get(key) is not None:
            facts.append((label, str(inv[key])))
    if "ssl" in inv or "ssl_library" in inv:
        facts.append(("ssl", f"{inv.get('ssl') or 'unknown'} ({inv.get('ssl_library') or '?'})"))
    if "data_checksums" in inv:
        facts.append(("data checksums", _yes_no(inv["data_checksums"])))
    for rid in inv.get("cloud_resource_ids") or ():
        facts.append(("cloud resource", str(rid)))
    if outcome.labels:  # the owner, business unit, zone an asset register files it under
        facts.append(("labels", ", ".join(f"{k}={v}" for k, v in sorted(outcome.labels.items()))))
    facts.extend(_asset_facts(inv))
    role = inv.get("role")
    line = None
    if isinstance(role, dict):
        parts = [f"superuser {_yes_no(role.get('superuser'))}"]
        parts.append(f"bypassrls {_yes_no(role.get('bypass_rls'))}")
        member_of = role.get("member_of") or []
        parts.append("member of " + (", ".join(map(str, member_of)) or "no built-in role"))
        views = role.get("file_views") or {}
        readable = [str(v) for v, ok in views.items() if ok]
        unreadable = [str(v) for v, ok in views.items() if not ok]
        if readable:
            parts.append("reads " + ", ".join(readable))
        if unreadable:
            parts.append("cannot read " + ", ".join(unreadable))
        line = f"{role.get('name')}: " + "; ".join(parts)
    databases = inv.get("databases")
    if isinstance(databases, dict):  # a server target: which of its databases were read
        facts.append(("databases scanned", ", ".join(map(str, databases.get("scanned") or []))))
        for name, why in sorted((databases.get("skipped") or {}).items()):
            facts.append((f"database {name}", f"skipped: {why}"))
    return ScopeRow(
        outcome.name,
        outcome.kind,
        outcome.status.value,
        outcome.error,
        tuple(facts),
        line,
        part_of=outcome.server,
    )


def _inventory_pairs(row: ScopeRow) -> tuple[tuple[str, str], ...]:
    return (*row.facts, *((("scanned as", row.role),) if row.role else ()))


def run_facts(results: ScanResults) -> tuple[tuple[str, str], ...]:
    """Who scanned, from where, under which policy, signed by which key (claimed: only
    `auditor verify --public-key` proves it)."""
    meta = results.run_metadata or {}
    rows: list[tuple[str, str]] = []
    scanner = meta.get("scanner")
    if isinstance(scanner, dict):
        rows.append(("Scanned from", f"{scanner.get('user') or '?'}@{scanner.get('host') or '?'}"))
    evaluated = meta.get("evaluated")
    if isinstance(evaluated, dict):
        runs = ", ".join(map(str, evaluated.get("from_runs") or [])) or "unknown runs"
        rows.append(("Evaluated offline", f"{evaluated.get('at')} from facts of {runs}"))
    policy = meta.get("policy")
    if isinstance(policy, dict):
        shown = "; ".join(
            f"{k} "
            + (", ".join(map(str, policy[k])) if isinstance(policy[k], list) else str(policy[k]))
            for k in (
                "tls_profile",
                "min_tls_version",
                "certificate_min_days_left",
                "certificate_min_rsa_bits",
                "allowed_column_ciphers",
                "sample_rows_per_column",
                "encryption_key_max_age_days",
            )
            if k in policy
        )
        rows.append(("Policy in force", shown))
    keyids = [
        str(s.get("keyid"))
        for s in (results.attestation or {}).get("signatures") or []
        if isinstance(s, dict)
    ]
    rows.append(
        (
            "Scan signature",
            "key " + ", ".join(keyids) + " (check with auditor verify --public-key)"
            if keyids
            else "not signed",
        )
    )
    return tuple(rows)


# Past this many targets a check's outcomes in a control matrix are counted, not listed one by
# one: a fleet of 300 targets would otherwise list 300 names per check per control.
LISTED_OUTCOMES = 3


@dataclass(frozen=True)
class CheckLine:
    """One check of a control-matrix row: its worst outcome and, per outcome, where."""

    check_id: str
    css: str
    text: str


def check_line(evidence: CheckEvidence) -> CheckLine:
    if len(evidence.outcomes) <= LISTED_OUTCOMES:
        return CheckLine(evidence.check_id, evidence.css, evidence.label)
    counts: dict[str, int] = {}
    for o in evidence.outcomes:
        counts[o.label] = counts.get(o.label, 0) + 1
    order = {s.value: i for i, s in enumerate(Status)}
    text = " · ".join(
        f"{label} on {n} target{'s' if n != 1 else ''}"
        for label, n in sorted(counts.items(), key=lambda kv: (order.get(kv[0], 99), kv[0]))
    )
    return CheckLine(evidence.check_id, evidence.css, text)


@dataclass(frozen=True)
class PrintedControl:
    """A control-matrix row as the printed report (PDF) lays it out: the same facts as the
    screen's row in fewer lines, because every line costs layout time at fleet scale. A check
    that ran nowhere is named once, with why, among the gaps (the screen states it twice); the
    failing targets are grouped by what fails on them, as one run of names."""

    checks: tuple[CheckLine, ...]  # checks that ran somewhere (or are excused), with outcomes
    failing_total: int  # targets on which the control fails
    failing: tuple[tuple[str, tuple[str, ...]], ...]  # (what fails, targets), first names only
    failing_more: int  # failing targets not named (cut at the printed name limit)
    gaps: tuple[GapGroup, ...]  # skips and errors on named targets
    not_run: tuple[tuple[str, tuple[str, ...]], ...]  # (why, check ids) of checks run nowhere


def printed_control(row: ControlVerdict, name_limit: int | None) -> PrintedControl:
    not_run: dict[str, list[str]] = {}
    for g in row.not_assessed:
        if g.target is None and g.check_id not in not_run.get(g.reason, []):
            not_run.setdefault(g.reason, []).append(g.check_id)
    named_gaps = [g for g in row.not_assessed if g.target is not None]
    unrun = {c for ids in not_run.values() for c in ids}
    failing = row.failing_targets
    shown = failing[:name_limit] if name_limit else failing
    grouped: dict[str, list[str]] = {}
    for t in shown:
        grouped.setdefault(t.text, []).append(t.target)
    return PrintedControl(
        checks=tuple(check_line(e) for e in row.checks if e.check_id not in unrun),
        failing_total=len(failing),
        failing=tuple((text, tuple(names)) for text, names in grouped.items()),
        failing_more=len(failing) - len(shown),
        gaps=gap_groups(named_gaps),
        not_run=tuple((why, tuple(ids)) for why, ids in not_run.items()),
    )


@dataclass(frozen=True)
class GapGroup:
    """Gaps of one check with the same reason, on the targets they occurred on."""

    check_id: str
    reason: str
    targets: tuple[str, ...]  # empty: the check did not run anywhere


def gap_groups(gaps: Iterable[Gap]) -> tuple[GapGroup, ...]:
    grouped: dict[tuple[str, str], list[str]] = {}
    for g in gaps:
        names = grouped.setdefault((g.check_id, g.reason), [])
        if g.target is not None and g.target not in names:
            names.append(g.target)
    return tuple(GapGroup(c, reason, tuple(ts)) for (c, reason), ts in grouped.items())


# Result counts in the order a target's status line states them.
RESULT_KEYS = ("fail", "error", "manual", "waived", "pass", "skip")


@dataclass(frozen=True)
class Unevaluated:
    """Checks of one target that could not reach a verdict for the same reason."""

    status: str  # "error" or "skip"
    reason: str
    checks: tuple[str, ...]


@dataclass(frozen=True)
class TargetDetail:
    """Everything about one target, for the per-target part of the report. The findings are
    listed one by one; passes are also summarised per check for the printed report."""

    outcome: TargetOutcome
    group: GroupView
    scope: ScopeRow
    failures: tuple[Result, ...]  # unwaived failures, worst severity first
    waived: tuple[Result, ...]
    unevaluated: tuple[Unevaluated, ...]
    manual: tuple[Result, ...]
    passed: tuple[Result, ...]

    @property
    def quiet(self) -> bool:
        """Scanned, and every result passed: nothing to read but the list of checks."""
        return self.outcome.status is TargetStatus.SCANNED and not (
            self.failures or self.waived or self.unevaluated or self.manual
        )

    @property
    def gaps_only(self) -> bool:
        """Scanned, nothing failed, waived or manual, but some checks reached no verdict: the
        printed report lists such targets grouped by what did not run and why."""
        return (
            self.outcome.status is TargetStatus.SCANNED
            and bool(self.unevaluated)
            and not (self.failures or self.waived or self.manual)
        )

    @property
    def status_line(self) -> str:
        """What the printed report states after a target's name: its verdict, how the scan
        went and its non-zero result counts, e.g. `FAIL · scanned · 2 fail, 14 pass`."""
        error = f": {self.outcome.error}" if self.outcome.error else ""
        counts = ", ".join(
            f"{self.group.counts[k]} {k}" for k in RESULT_KEYS if self.group.counts.get(k)
        )
        return f"{self.group.status.label.upper()} · {self.outcome.status.value}{error} · {counts}"

    @property
    def passed_summary(self) -> tuple[tuple[str, int], ...]:
        """(check id, passing results) in check order: what a printed report shows."""
        counts: dict[str, int] = {}
        for r in self.passed:
            counts[r.check_id] = counts.get(r.check_id, 0) + 1
        return tuple(sorted(counts.items()))


def _worst_first(results: Iterable[Result]) -> tuple[Result, ...]:
    return tuple(sorted(results, key=lambda r: (-r.severity.rank, r.check_id, r.resource or "")))


def target_detail(outcome: TargetOutcome, group: GroupView, mine: list[Result]) -> TargetDetail:
    grouped: dict[tuple[str, str], list[str]] = {}
    for r in mine:
        if r.status in (Status.ERROR, Status.SKIP):
            checks = grouped.setdefault((r.status.value, _gap_text(r)), [])
            if r.check_id not in checks:
                checks.append(r.check_id)
    return TargetDetail(
        outcome=outcome,
        group=group,
        scope=scope_row(outcome),
        failures=_worst_first(r for r in mine if r.status is Status.FAIL),
        waived=_worst_first(r for r in mine if r.status is Status.WAIVED),
        unevaluated=tuple(
            Unevaluated(status, reason, tuple(sorted(checks)))
            for (status, reason), checks in sorted(grouped.items())
        ),
        manual=tuple(sorted((r for r in mine if r.status is Status.MANUAL), key=_by_check)),
        passed=tuple(sorted((r for r in mine if r.status is Status.PASS), key=_by_check)),
    )


def _by_check(r: Result) -> tuple[str, str]:
    return (r.check_id, r.resource or "")


def _gap_text(r: Result) -> str:
    return f"{r.resource}: {r.message}" if r.resource else r.message


@dataclass(frozen=True)
class FailingTarget:
    """A target with unwaived failures, for the executive summary."""

    name: str
    worst: Severity
    by_severity: tuple[tuple[Severity, int], ...]  # worst first, non-zero counts only
    checks: tuple[str, ...]  # failing check ids, sorted

    @property
    def total(self) -> int:
        return sum(n for _, n in self.by_severity)


def failing_targets(findings: Iterable[Result]) -> tuple[FailingTarget, ...]:
    per: dict[str, list[Result]] = {}
    for r in findings:
        if r.status is Status.FAIL:
            per.setdefault(r.target, []).append(r)
    found = []
    for name, rs in per.items():
        counts = {s: sum(r.severity is s for r in rs) for s in Severity}
        ranked = sorted((s for s in counts if counts[s]), key=lambda s: -s.rank)
        found.append(
            FailingTarget(
                name,
                ranked[0],
                tuple((s, counts[s]) for s in ranked),
                tuple(sorted({r.check_id for r in rs})),
            )
        )
    # Worst first: the severity of the worst failure, then how many failures of each rank.
    return tuple(
        sorted(
            found,
            key=lambda t: (
                -t.worst.rank,
                tuple(-n for _, n in t.by_severity),
                t.name,
            ),
        )
    )


@dataclass(frozen=True)
class CheckSpread:
    """A failing check across the fleet: how many findings, on which targets."""

    check_id: str
    title: str
    severity: Severity
    findings: int
    targets: tuple[str, ...]  # in the scan's order of findings (sorted by target)


def check_spread(findings: Iterable[Result]) -> tuple[CheckSpread, ...]:
    per: dict[str, list[Result]] = {}
    for r in findings:
        if r.status is Status.FAIL:
            per.setdefault(r.check_id, []).append(r)
    spread = [
        CheckSpread(
            check_id,
            rs[0].title,
            max((r.severity for r in rs), key=lambda s: s.rank),
            len(rs),
            tuple(dict.fromkeys(r.target for r in sorted(rs, key=lambda r: r.sort_key))),
        )
        for check_id, rs in per.items()
    ]
    return tuple(sorted(spread, key=lambda c: (-c.severity.rank, -len(c.targets), c.check_id)))


@dataclass(frozen=True)
class Report:
    results: ScanResults
    frameworks: tuple[FrameworkView, ...]
    layers: tuple[GroupView, ...]
    targets: tuple[GroupView, ...]
    target_outcomes: tuple[TargetOutcome, ...]
    failures: tuple[SeverityGroup, ...]  # unwaived FAILs by severity, worst first
    errors: tuple[Result, ...]
    skipped: tuple[Result, ...]
    waived: tuple[Result, ...]
    expired_waivers: tuple[Result, ...]  # failures whose matching waiver has expired
    manual: tuple[Result, ...]  # manual checks, attested or not
    passed: tuple[Result, ...]
    results_sha256: str
    evidence: tuple[EvidenceEntry, ...]
    counts: dict[str, int] = field(default_factory=dict)
    scope: tuple[ScopeRow, ...] = ()
    run_facts: tuple[tuple[str, str], ...] = ()
    details: tuple[TargetDetail, ...] = ()  # per-target detail, scan order
    failing_targets: tuple[FailingTarget, ...] = ()  # targets with unwaived failures, worst first
    spread: tuple[CheckSpread, ...] = ()  # failing checks, widest first
    _entry_by_id: dict[int, EvidenceEntry] = field(default_factory=dict, repr=False)
    _anchor: dict[str, int] = field(default_factory=dict, repr=False)

    def controls_of(self, result: Result) -> tuple[str, ...]:
        """Control labels of the result, limited to the frameworks in this report."""
        return control_labels(result, {v.framework.id: v.framework for v in self.frameworks})

    def evidence_digest(self, result: Result) -> str:
        """SHA-256 of the result's evidence block (the manifest entry for it)."""
        entry = self._entry_by_id.get(id(result))
        return entry.sha256 if entry else ""

    @property
    def unevaluated_targets(self) -> tuple[TargetOutcome, ...]:
        """Targets the scan could not (fully) examine: unreachable or in error."""
        return tuple(t for t in self.target_outcomes if t.status is not TargetStatus.SCANNED)

    def check_rows(self, row: ControlVerdict) -> tuple[CheckLine, ...]:
        return tuple(check_line(e) for e in row.checks)

    @cached_property
    def failing_target_groups(self) -> tuple[tuple[FailingTarget, tuple[FailingTarget, ...]], ...]:
        """The failing targets of the executive summary grouped by what fails on them (the
        same counts per severity and the same checks), worst first: a fleet's failures repeat,
        and the printed report names each group's targets in one run instead of a line each.
        Each group is (its first target, all of its targets)."""
        groups: dict[tuple[object, ...], list[FailingTarget]] = {}
        for t in self.failing_targets:
            groups.setdefault((t.by_severity, t.checks), []).append(t)
        return tuple((ts[0], tuple(ts)) for ts in groups.values())

    @property
    def quiet_groups(self) -> tuple[tuple[tuple[tuple[str, int], ...], tuple[str, ...]], ...]:
        """Targets on which every check passed, grouped by the checks that passed (a fleet's
        targets mostly run the same checks): (passed summary, target names), largest first."""
        groups: dict[tuple[tuple[str, int], ...], list[str]] = {}
        for d in self.details:
            if d.quiet:
                groups.setdefault(d.passed_summary, []).append(d.outcome.name)
        return tuple(
            sorted(((k, tuple(v)) for k, v in groups.items()), key=lambda g: (-len(g[1]), g[0]))
        )

    @cached_property  # read twice by the template (whether to print, then each group)
    def gaps_only_groups(
        self,
    ) -> tuple[tuple[str, tuple[Unevaluated, ...], tuple[str, ...]], ...]:
        """Targets whose only gaps are checks that reached no verdict (see
        `TargetDetail.gaps_only`), grouped by their status line and those gaps: (status line,
        gaps, target titles), largest first. A fleet's skips repeat (the same missing GRANT on
        many servers); the printed report states each once with the targets it applies to."""
        groups: dict[tuple[str, tuple[Unevaluated, ...]], list[str]] = {}
        for d in self.details:
            if d.gaps_only:
                groups.setdefault((d.status_line, d.unevaluated), []).append(d.group.title)
        return tuple(
            sorted(
                ((line, gaps, tuple(ts)) for (line, gaps), ts in groups.items()),
                key=lambda g: (-len(g[2]), g[0], g[2]),
            )
        )

    @cached_property  # read once per target by the printed appendix: computed once
    def inventory_defaults(self) -> tuple[tuple[str, str], ...]:
        """Inventory facts (and the scanning role, as "scanned as") shared by more than half of
        the targets: the printed appendix states them once and lists per target only what
        differs, so 300 targets scanned alike take lines, not pages."""
        if len(self.scope) < 4:
            return ()
        counts: dict[tuple[str, str], int] = {}
        for row in self.scope:
            for pair in set(_inventory_pairs(row)):
                counts[pair] = counts.get(pair, 0) + 1
        half = len(self.scope) / 2
        chosen = {pair for pair, n in counts.items() if n > half and pair[0] != "endpoint"}
        order = [pair for row in self.scope for pair in _inventory_pairs(row)]
        return tuple(dict.fromkeys(p for p in order if p in chosen))

    def inventory_rest(self, row: ScopeRow) -> tuple[tuple[str, str], ...]:
        """What the printed appendix lists for one target: what is not a default."""
        defaults = set(self.inventory_defaults)
        return tuple(p for p in _inventory_pairs(row) if p not in defaults)

    def anchor(self, target: str) -> str:
        """The HTML id of a target's detail (by position: names are data, not identifiers)."""
        return f"target-{self._anchor.get(target, 0)}"

    def printed_row(self, row: ControlVerdict, name_limit: int | None) -> PrintedControl:
        return printed_control(row, name_limit)

    def gaps_of(self, row: ControlVerdict) -> tuple[GapGroup, ...]:
        return gap_groups(row.not_assessed)

    def entry_number(self, result: Result) -> int:
        """The result's position in the evidence manifest (and in results.json)."""
        return self._entry_by_id[id(result)].index


def control_labels(result: Result, shown: dict[str, Framework]) -> tuple[str, ...]:
    return tuple(
        f"{shown[c.framework].label} {c.id}" for c in result.controls if c.framework in shown
    )


def _by_severity(
    results: Iterable[Result], shown: dict[str, Framework]
) -> tuple[SeverityGroup, ...]:
    pool = list(results)
    groups = []
    for severity in sorted(Severity, key=lambda s: -s.rank):
        found = [r for r in pool if r.severity is severity]
        checks = []
        for check_id in sorted({r.check_id for r in found}):
            mine = tuple(
                sorted((r for r in found if r.check_id == check_id), key=lambda r: r.sort_key)
            )
            first = mine[0]
            checks.append(
                CheckGroup(
                    check_id, first.title, first.remediation, control_labels(first, shown), mine
                )
            )
        if checks:
            groups.append(SeverityGroup(severity, tuple(checks)))
    return tuple(groups)


def build_report(results: ScanResults, framework: str | None = None) -> Report:
    """The whole report, once. `framework` restricts control views to one framework id
    (raises FrameworkError when unknown)."""
    chosen = [get_framework(framework)] if framework else list(frameworks().values())
    findings = list(results.findings)
    verdicts = control_verdicts(results, chosen)
    views = tuple(
        FrameworkView(fw, tuple(v for v in verdicts if v.framework_id == fw.id)) for fw in chosen
    )
    layer_keys = list(LAYERS) + sorted({layer_of(r.check_id) for r in findings} - set(LAYERS))
    layers = tuple(
        GroupView(k, LAYER_TITLES.get(k, k), roll_up(rs), status_counts(rs))
        for k in layer_keys
        if (rs := [r for r in findings if layer_of(r.check_id) == k])
    )
    per_target: dict[str, list[Result]] = {}
    for r in findings:
        per_target.setdefault(r.target, []).append(r)
    targets = tuple(
        GroupView(t.name, _target_title(t), roll_up(rs), status_counts(rs), part_of=t.server)
        for t in results.targets
        for rs in [per_target.get(t.name, [])]
    )

    entries = tuple(evidence_entries(results))

    def having(status: Status) -> list[Result]:
        return [r for r in findings if r.status is status]

    return Report(
        results=results,
        frameworks=views,
        layers=layers,
        targets=targets,
        target_outcomes=results.targets,
        failures=_by_severity(having(Status.FAIL), {f.id: f for f in chosen}),
        errors=tuple(having(Status.ERROR)),
        skipped=tuple(having(Status.SKIP)),
        waived=tuple(having(Status.WAIVED)),
        expired_waivers=tuple(r for r in having(Status.FAIL) if EXPIRED_WAIVER_KEY in r.evidence),
        manual=tuple(having(Status.MANUAL)),
        passed=tuple(having(Status.PASS)),
        results_sha256=results_digest(results),
        evidence=entries,
        counts=status_counts(findings),
        scope=tuple(scope_row(t) for t in results.targets),
        run_facts=run_facts(results),
        details=tuple(
            target_detail(t, g, per_target.get(t.name, []))
            for t, g in zip(results.targets, targets, strict=True)
        ),
        failing_targets=failing_targets(findings),
        spread=check_spread(findings),
        _entry_by_id={id(r): e for r, e in zip(findings, entries, strict=True)},
        _anchor={t.name: i for i, t in reversed(list(enumerate(results.targets)))},
    )
