"""Control verdicts: whether each framework control is proven by the checks that evidence it.

One decision, used by every output (results JSON `controls`, HTML/PDF matrix, terminal), so no
format can say PASS where another says partial. The rules, worst first:

* **fail** — a mapped check failed on some target. A *waived* failure also fails the control:
  a waiver records that people accepted the risk, it does not prove the requirement; the
  check's outcome stays `waived` (with the waiver) so an auditor sees the accepted risk.
* **partial** — nothing failed and something was proven, but a mapped check did not run for the
  scope, or skipped, or errored on some target. `not_assessed` lists each gap with its reason.
* **not_assessed** — nothing failed and nothing was proven (every mapped check is missing,
  skipped or errored).
* **manual** — everything that ran passed, but a manual check still waits for a person's
  attestation; also a control that no automated check can evidence.
* **pass** — every mapped check ran and passed on every target it ran on. An attested manual
  check counts as proven; its status stays `manual` everywhere (with `attested: true`).

Platform alternatives (`alternatives` in a framework file) are checks that evidence the same
requirement on different platforms (storage encryption on RDS, Azure, Cloud SQL or LUKS): a
member that did not run is not a gap when another member of its group ran.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from auditor.frameworks import Control, Framework, frameworks
from auditor.model import Result, ScanResults, Status

# Evidence key waivers.py adds to a manual result when a valid attestation covers it.
ATTESTATION_KEY = "attestation"


class ControlStatus(enum.StrEnum):
    FAIL = "fail"
    PARTIAL = "partial"
    NOT_ASSESSED = "not_assessed"
    MANUAL = "manual"
    PASS = "pass"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


NOT_RUN = "not_run"  # the status of a gap for a check that produced no result at all

# Worst first, for the outcome of one check on one target (several resources each).
_OUTCOME_ORDER = (Status.FAIL, Status.WAIVED, Status.ERROR, Status.SKIP, Status.MANUAL, Status.PASS)


def is_attested(result: Result) -> bool:
    return result.status is Status.MANUAL and ATTESTATION_KEY in result.evidence


@dataclass(frozen=True)
class Outcome:
    """What one check concluded on one target: its worst result there."""

    target: str
    status: Status
    attested: bool  # manual and every manual result there is attested
    results: int
    # Some result there reached a verdict (several resources: one passed, another skipped).
    some_verdict: bool = True

    @property
    def label(self) -> str:
        return "manual (attested)" if self.attested else self.status.value

    @property
    def proven(self) -> bool:
        return self.status is Status.PASS or self.attested


@dataclass(frozen=True)
class CheckEvidence:
    check_id: str
    outcomes: tuple[Outcome, ...]  # in the scan's target order; empty when it did not run
    excused: str | None = None  # why a check that did not run is not a gap

    @property
    def css(self) -> str:
        """Style key for the worst outcome: a result status, `excused` or `not_assessed`."""
        if not self.outcomes:
            return "excused" if self.excused else "not_assessed"
        return next(s for s in _OUTCOME_ORDER if any(o.status is s for o in self.outcomes)).value

    @property
    def label(self) -> str:
        if not self.outcomes:
            return "not applicable (other platform)" if self.excused else "did not run"
        return " · ".join(f"{o.target}: {o.label}" for o in self.outcomes)


@dataclass(frozen=True)
class Gap:
    """Something the control needs that was not assessed."""

    check_id: str
    target: str | None  # None when the check did not run anywhere
    status: str  # "skip", "error" or "not_run"
    reason: str

    @property
    def text(self) -> str:
        where = f" on {self.target}" if self.target else ""
        return f"{self.check_id}{where}: {self.reason}"


@dataclass(frozen=True)
class TargetVerdict:
    target: str
    status: ControlStatus  # over the checks that ran on this target
    failing_checks: tuple[str, ...]  # unwaived failures
    waived_checks: tuple[str, ...] = ()  # failures accepted by a waiver: still not proven

    @property
    def text(self) -> str:
        waived = f" (waived: {', '.join(self.waived_checks)})" if self.waived_checks else ""
        return ", ".join(self.failing_checks) + waived if self.failing_checks else waived.strip()


@dataclass(frozen=True)
class ControlVerdict:
    framework_id: str
    control: Control
    status: ControlStatus
    checks: tuple[CheckEvidence, ...]  # in the framework file's order
    not_assessed: tuple[Gap, ...]
    targets: tuple[TargetVerdict, ...]  # targets any mapped check ran on, scan order

    @property
    def failing_targets(self) -> tuple[TargetVerdict, ...]:
        return tuple(t for t in self.targets if t.status is ControlStatus.FAIL)


def outcome_of(target: str, results: list[Result]) -> Outcome:
    statuses = {r.status for r in results}
    worst = next(s for s in _OUTCOME_ORDER if s in statuses)
    manual = [r for r in results if r.status is Status.MANUAL]
    attested = worst is Status.MANUAL and all(is_attested(r) for r in manual)
    verdicts = (Status.PASS, Status.MANUAL, Status.FAIL, Status.WAIVED)
    return Outcome(target, worst, attested, len(results), any(s in verdicts for s in statuses))


def decide(outcomes: Iterable[Outcome], missing: bool = False) -> ControlStatus:
    """The rules in the module docstring, over per-target outcomes (and whether some mapped
    check did not run at all)."""
    found = list(outcomes)
    if any(o.status in (Status.FAIL, Status.WAIVED) for o in found):
        return ControlStatus.FAIL
    something = any(o.some_verdict for o in found)
    if missing or any(o.status in (Status.SKIP, Status.ERROR) for o in found):
        return ControlStatus.PARTIAL if something else ControlStatus.NOT_ASSESSED
    if any(o.status is Status.MANUAL and not o.attested for o in found):
        return ControlStatus.MANUAL
    return ControlStatus.PASS if something else ControlStatus.NOT_ASSESSED


def roll_up(results: Iterable[Result]) -> ControlStatus:
    """The same rules over any set of results (a layer, a target): one outcome per check and
    target. Skips and errors make it partial; nothing but skips makes it not assessed."""
    grouped: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        grouped.setdefault((r.check_id, r.target), []).append(r)
    return decide(outcome_of(target, rs) for (_, target), rs in grouped.items())


def _why_not_run(check_id: str, scanned_kinds: set[str]) -> str:
    # Imported here: the catalog loads every check module and plugins, which only this
    # explanation needs.
    from auditor.catalog import CatalogError, all_checks

    try:
        check = all_checks().get(check_id)
    except CatalogError:
        check = None
    if check is None:
        return "did not run: this version of Auditor has no such check"
    kinds = sorted(check.kinds)
    if not scanned_kinds & set(kinds):
        return f"did not run: it applies to {', '.join(kinds)} targets and none is in scope"
    return "did not run in this scan"


def _gap_reason(result: Result) -> str:
    return f"{result.resource}: {result.message}" if result.resource else result.message


def control_verdict(
    framework: Framework, control: Control, results: ScanResults, by_check: dict[str, list[Result]]
) -> ControlVerdict:
    listed = [t.name for t in results.targets]
    # A finding about a target the run does not list (a hand-edited results file) still counts.
    targets = listed + sorted({r.target for rs in by_check.values() for r in rs} - set(listed))
    scanned_kinds = {t.kind for t in results.targets}
    if not control.checks:
        return ControlVerdict(framework.id, control, ControlStatus.MANUAL, (), (), ())
    ran = {c for c in control.checks if by_check.get(c)}
    evidence: list[CheckEvidence] = []
    gaps: list[Gap] = []
    outcomes: list[Outcome] = []
    for check_id in control.checks:
        mine = by_check.get(check_id, [])
        if not mine:
            siblings = sorted(
                {s for group in control.alternatives if check_id in group for s in group} & ran
            )
            if siblings:
                why = f"platform alternative to {', '.join(siblings)}, which ran"
                evidence.append(CheckEvidence(check_id, (), why))
            else:
                evidence.append(CheckEvidence(check_id, ()))
                gaps.append(Gap(check_id, None, NOT_RUN, _why_not_run(check_id, scanned_kinds)))
            continue
        # Grouped once: a fleet scan has hundreds of targets (filtering per target was
        # quadratic and dominated rendering a 300-target report).
        by_target: dict[str, list[Result]] = {}
        for r in mine:
            by_target.setdefault(r.target, []).append(r)
        per_target = [outcome_of(t, by_target[t]) for t in targets if t in by_target]
        evidence.append(CheckEvidence(check_id, tuple(per_target)))
        outcomes.extend(per_target)
        gaps.extend(
            Gap(check_id, r.target, r.status.value, _gap_reason(r))
            for r in mine
            if r.status in (Status.SKIP, Status.ERROR)
        )
    missing = any(g.status == NOT_RUN for g in gaps)
    here: dict[str, list[Outcome]] = {}
    flagged: dict[tuple[str, Status], list[str]] = {}
    for e in evidence:
        for o in e.outcomes:
            here.setdefault(o.target, []).append(o)
            flagged.setdefault((o.target, o.status), []).append(e.check_id)
    per_target_verdicts = tuple(
        TargetVerdict(
            t,
            decide(here[t]),
            tuple(flagged.get((t, Status.FAIL), ())),
            tuple(flagged.get((t, Status.WAIVED), ())),
        )
        for t in targets
        if t in here
    )
    return ControlVerdict(
        framework.id,
        control,
        decide(outcomes, missing),
        tuple(evidence),
        tuple(gaps),
        per_target_verdicts,
    )


# The last verdicts computed: a report renders them for its matrices and again for the
# results document whose digest it shows (results are frozen, so the same object and the same
# frameworks give the same verdicts); at fleet scale each computation takes a noticeable time.
_last_verdicts: tuple[ScanResults, tuple[Framework, ...], list[ControlVerdict]] | None = None


def control_verdicts(
    results: ScanResults, chosen: Iterable[Framework] | None = None
) -> list[ControlVerdict]:
    """Every control of `chosen` (default: every built-in framework, sorted by id)."""
    global _last_verdicts
    fws = tuple(chosen if chosen is not None else frameworks().values())
    last = _last_verdicts
    if (
        last is not None
        and last[0] is results
        and len(last[1]) == len(fws)
        and all(a is b for a, b in zip(last[1], fws, strict=True))
    ):
        return list(last[2])
    by_check: dict[str, list[Result]] = {}
    for r in sorted(results.findings, key=lambda r: r.sort_key):
        by_check.setdefault(r.check_id, []).append(r)
    verdicts = [
        control_verdict(fw, control, results, by_check) for fw in fws for control in fw.controls
    ]
    _last_verdicts = (results, fws, verdicts)
    return list(verdicts)


def verdict_to_dict(v: ControlVerdict) -> dict[str, object]:
    """One entry of the results JSON `controls` list (documented in the results schema)."""
    return {
        "framework": v.framework_id,
        "control": v.control.id,
        "title": v.control.title,
        "status": v.status.value,
        "targets": [
            {
                "target": t.target,
                "status": t.status.value,
                "failing_checks": list(t.failing_checks),
                "waived_checks": list(t.waived_checks),
            }
            for t in v.targets
        ],
        "checks": [
            {
                "check_id": e.check_id,
                "outcomes": [
                    {
                        "target": o.target,
                        "status": o.status.value,
                        "attested": o.attested,
                        "results": o.results,
                    }
                    for o in e.outcomes
                ],
                "excused": e.excused,
            }
            for e in v.checks
        ],
        "not_assessed": [
            {"check_id": g.check_id, "target": g.target, "status": g.status, "reason": g.reason}
            for g in v.not_assessed
        ],
    }
