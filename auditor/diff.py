"""What changed between two scans, told honestly.

Two rules keep a diff from lying to a CI gate:

* A failure is `fixed` only when the check ran again on that target and did not fail. A
  failure that now errors or skips, or whose target could not be scanned, is
  `not_evaluated`; the diff exits 3 for it, because nobody knows whether it is fixed.
* Two runs are compared only within their shared scope: the checks both selected
  (`--check` subsets) — so a subset run followed by a full run reports no spurious
  "new failures" for the checks the subset never ran. Targets are compared by name; a target
  in one run only contributes `new` / `gone` (or `new_failure`) changes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from auditor.gate import EXIT_FAILURES, EXIT_INCOMPLETE, EXIT_OK
from auditor.model import Result, ScanResults, Status, TargetStatus
from auditor.safe_text import display_text

Key = tuple[str, str, str]  # target, check id, resource ("" for a target-level verdict)

_FAILING = frozenset({Status.FAIL, Status.WAIVED})
_NOT_EVALUATED = frozenset({Status.ERROR, Status.SKIP})


class ChangeKind(enum.StrEnum):
    NEW_FAILURE = "new_failure"
    FIXED = "fixed"
    STILL_FAILING = "still_failing"
    NOT_EVALUATED = "not_evaluated"
    NEW = "new"
    GONE = "gone"


def _key(r: Result) -> Key:
    return (r.target, r.check_id, r.resource or "")


def scope_of(results: ScanResults) -> frozenset[str]:
    """The checks a run selected; for results saved before scopes were recorded, the checks
    that reported anything (the best that can be known)."""
    if results.scope is not None:
        return frozenset(results.scope)
    return frozenset(f.check_id for f in results.findings)


def shared_scope(old: ScanResults, new: ScanResults) -> frozenset[str]:
    return scope_of(old) & scope_of(new)


def comparable(old: ScanResults, new: ScanResults) -> bool:
    """Whether comparing makes sense: at least one check and one target in common."""
    targets_old = {t.name for t in old.targets}
    return bool(shared_scope(old, new)) and any(t.name in targets_old for t in new.targets)


@dataclass(frozen=True)
class Change:
    check_id: str
    target: str
    resource: str | None
    before: Status | None  # None: not reported in that run
    after: Status | None
    change: ChangeKind
    severity: str
    title: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "target": self.target,
            "resource": self.resource,
            "before": self.before.value if self.before else None,
            "after": self.after.value if self.after else None,
            "change": self.change.value,
            "severity": self.severity,
        }

    @property
    def gates(self) -> bool:
        """A new unwaived failure (exit 1)."""
        return self.change is ChangeKind.NEW_FAILURE and self.after is Status.FAIL

    @property
    def lost_failure(self) -> bool:
        """A failure that could not be evaluated again (exit 3)."""
        return self.change is ChangeKind.NOT_EVALUATED and self.before is Status.FAIL


@dataclass(frozen=True)
class ResultsDiff:
    changes: tuple[Change, ...]
    unchanged: int  # same status both times (passes, skips...) or a transition not listed
    out_of_scope: int  # verdicts about checks only one of the runs selected
    scope_size: int

    def of(self, kind: ChangeKind) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.change is kind)

    @property
    def new_failures(self) -> tuple[Change, ...]:
        return self.of(ChangeKind.NEW_FAILURE)

    @property
    def fixed(self) -> tuple[Change, ...]:
        return self.of(ChangeKind.FIXED)

    @property
    def not_evaluated(self) -> tuple[Change, ...]:
        return self.of(ChangeKind.NOT_EVALUATED)

    def exit_code(self) -> int:
        """1 new unwaived failures; 3 a previous failure could not be evaluated; else 0."""
        if any(c.gates for c in self.changes):
            return EXIT_FAILURES
        if any(c.lost_failure for c in self.changes):
            return EXIT_INCOMPLETE
        return EXIT_OK

    def as_list(self) -> list[dict[str, Any]]:
        return [c.as_dict() for c in self.changes]

    def headline(self) -> str:
        counts = {kind: len(self.of(kind)) for kind in ChangeKind}
        text = (
            f"{counts[ChangeKind.NEW_FAILURE]} new failure(s), {counts[ChangeKind.FIXED]} fixed, "
            f"{counts[ChangeKind.STILL_FAILING]} still failing, "
            f"{counts[ChangeKind.NOT_EVALUATED]} not evaluated, {counts[ChangeKind.NEW]} new, "
            f"{counts[ChangeKind.GONE]} gone, {self.unchanged} unchanged"
        )
        if self.out_of_scope:
            text += f"; {self.out_of_scope} verdict(s) of checks only one run selected not compared"
        return text

    def lines(self) -> list[str]:
        def fmt(c: Change) -> str:
            # Names come from the scanned systems: one visible line, no control characters.
            where = display_text(c.target + (f" / {c.resource}" if c.resource else ""))
            before = c.before.value if c.before else "absent"
            after = c.after.value if c.after else "absent"
            return f"  {c.check_id:40} {where}: {before} -> {after}"

        out = [self.headline()]
        for kind in ChangeKind:
            group = self.of(kind)
            if group and kind is not ChangeKind.STILL_FAILING:
                out.append(f"{kind.value.replace('_', ' ')}:")
                out.extend(fmt(c) for c in group)
        return out


def _classify(
    before: Result | None,
    after: Result | None,
    target_status: TargetStatus | None,
    evaluated_cleanly: bool,
) -> ChangeKind | None:
    """The change for one (target, check, resource), or None when nothing worth listing.

    `target_status` is the target's outcome in the new run (None: not in it);
    `evaluated_cleanly` whether the check reported on the target then without error/skip."""
    b = before.status if before else None
    a = after.status if after else None
    if b in _FAILING:
        if a in _FAILING:
            return ChangeKind.STILL_FAILING
        if target_status is None:
            return ChangeKind.GONE  # the target left the configuration
        if target_status is not TargetStatus.SCANNED or a in _NOT_EVALUATED:
            return ChangeKind.NOT_EVALUATED
        if a is Status.PASS:
            return ChangeKind.FIXED
        if a is None:
            # The check ran on the target and no longer reports this resource: fixed only
            # when it evaluated the target cleanly, otherwise nobody knows.
            return ChangeKind.FIXED if evaluated_cleanly else ChangeKind.NOT_EVALUATED
        return ChangeKind.NOT_EVALUATED  # manual: a person, not the check, answers now
    if a in _FAILING:
        return ChangeKind.NEW_FAILURE
    if b is None and a is not None:
        return ChangeKind.NEW
    if a is None and b is not None:
        return ChangeKind.GONE
    if b is Status.PASS and a in _NOT_EVALUATED:
        return ChangeKind.NOT_EVALUATED
    return None


def diff_results(old: ScanResults, new: ScanResults) -> ResultsDiff:
    scope = shared_scope(old, new)
    before = {_key(r): r for r in old.findings if r.check_id in scope}
    after = {_key(r): r for r in new.findings if r.check_id in scope}
    out_of_scope = sum(r.check_id not in scope for r in (*old.findings, *new.findings))
    # Per (target, check) of the new run: did the check evaluate the target without an
    # error or skip anywhere?
    evaluated: dict[tuple[str, str], bool] = {}
    for r in new.findings:
        ok = r.status not in _NOT_EVALUATED
        evaluated[(r.target, r.check_id)] = evaluated.get((r.target, r.check_id), True) and ok
    target_status = {t.name: t.status for t in new.targets}
    changes: list[Change] = []
    unchanged = 0
    for key in sorted(before.keys() | after.keys()):
        b, a = before.get(key), after.get(key)
        kind = _classify(b, a, target_status.get(key[0]), evaluated.get((key[0], key[1]), False))
        if kind is None:
            unchanged += 1
            continue
        ref = a or b
        assert ref is not None
        target, check_id, resource = key
        changes.append(
            Change(
                check_id=check_id,
                target=target,
                resource=resource or None,
                before=b.status if b else None,
                after=a.status if a else None,
                change=kind,
                severity=ref.severity.value,
                title=ref.title,
            )
        )
    return ResultsDiff(tuple(changes), unchanged, out_of_scope, len(scope))
