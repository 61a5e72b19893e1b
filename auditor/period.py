"""Period evidence (`auditor report --period 2026-01-01..2026-12-31 --history URL`): did each
control operate over the whole audit period? What a SOC 2 Type II or PCI DSS assessor asks
for, from the runs in a history store.

Per control (its verdict in each run decided by auditor/control_verdicts.py, the rule every
report uses): the runs in the period, how many assessed it, the pass rate, the longest
failing stretch, the gaps in the expected cadence, and its trend. Rules that keep it honest:

* The pass rate is passes over *all* runs in the period: a run that could not assess the
  control (broken login, check not selected) is not a pass.
* A failing stretch is not ended by a run that could not assess the control — only by one
  that proved it (pass, partial, manual): nobody knows it was fixed in between.
* A gap is an interval between two runs that assessed the control (or the period's start or
  end) longer than 1.5 cadences; runs of the period overall get the same treatment.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from auditor.control_verdicts import ControlStatus, control_verdicts
from auditor.frameworks import Framework

CADENCES = {
    "hourly": dt.timedelta(hours=1),
    "daily": dt.timedelta(days=1),
    "weekly": dt.timedelta(days=7),
    "monthly": dt.timedelta(days=31),
}
TOLERANCE = 1.5  # a run may be this many cadences late before it counts as a gap
_PERIOD = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
_ASSESSED = {ControlStatus.PASS, ControlStatus.FAIL, ControlStatus.PARTIAL, ControlStatus.MANUAL}
_PROVEN = {ControlStatus.PASS, ControlStatus.PARTIAL, ControlStatus.MANUAL}


class PeriodError(Exception):
    """A --period or --cadence that cannot be used; one line."""


@dataclass(frozen=True)
class Period:
    start: dt.datetime  # inclusive, 00:00 UTC of the first day
    end: dt.datetime  # exclusive, 00:00 UTC after the last day

    @property
    def label(self) -> str:
        last = self.end - dt.timedelta(days=1)
        return f"{self.start.date().isoformat()}..{last.date().isoformat()}"


def parse_period(value: str) -> Period:
    match = _PERIOD.match(value.strip())
    if not match:
        raise PeriodError(
            f"--period {value!r}: expected FROM..TO dates, e.g. 2026-01-01..2026-12-31"
        )
    try:
        start, last = (dt.date.fromisoformat(match.group(i)) for i in (1, 2))
    except ValueError as exc:
        raise PeriodError(f"--period {value!r}: {exc}") from None
    if last < start:
        raise PeriodError(f"--period {value!r}: the end is before the start")
    begin = dt.datetime.combine(start, dt.time(), dt.UTC)
    return Period(begin, dt.datetime.combine(last, dt.time(), dt.UTC) + dt.timedelta(days=1))


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class RunRef:
    id: str
    finished_at: dt.datetime
    complete: bool  # every shard recorded


@dataclass(frozen=True)
class Gap:
    start: dt.datetime
    end: dt.datetime
    missed: int  # cadences without a run in between

    def as_dict(self) -> dict[str, Any]:
        return {"from": iso(self.start), "to": iso(self.end), "missed_runs": self.missed}


@dataclass(frozen=True)
class Stretch:
    runs: int
    start: dt.datetime
    end: dt.datetime
    ongoing: bool  # still failing at the period's last run

    def as_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "from": iso(self.start),
            "to": iso(self.end),
            "days": round((self.end - self.start).total_seconds() / 86400, 1),
            "ongoing": self.ongoing,
        }


@dataclass
class ControlPeriod:
    framework: str
    control: str
    title: str
    trend: list[tuple[RunRef, ControlStatus]] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    longest_failing: Stretch | None = None

    @property
    def runs(self) -> int:
        return len(self.trend)

    def count(self, status: ControlStatus) -> int:
        return sum(s is status for _, s in self.trend)

    @property
    def assessed(self) -> int:
        return sum(s in _ASSESSED for _, s in self.trend)

    @property
    def pass_rate(self) -> float | None:
        return self.count(ControlStatus.PASS) / self.runs if self.runs else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "framework": self.framework,
            "control": self.control,
            "title": self.title,
            "runs": self.runs,
            "assessed": self.assessed,
            "by_status": {s.value: self.count(s) for s in ControlStatus},
            "pass_rate": None if self.pass_rate is None else round(self.pass_rate, 4),
            "longest_failing_stretch": (
                self.longest_failing.as_dict() if self.longest_failing else None
            ),
            "gaps": [g.as_dict() for g in self.gaps],
            "trend": [
                {"run": r.id, "at": iso(r.finished_at), "status": s.value} for r, s in self.trend
            ],
        }


@dataclass
class PeriodEvidence:
    period: Period
    cadence: str
    runs: list[RunRef]
    gaps: list[Gap]
    controls: list[ControlPeriod]
    generated_until: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": "auditor/period/v1",
            "period": {
                "from": iso(self.period.start),
                "to": iso(self.period.end),
                "label": self.period.label,
            },
            "cadence": self.cadence,
            "runs": [
                {"id": r.id, "finished_at": iso(r.finished_at), "complete": r.complete}
                for r in self.runs
            ],
            "gaps": [g.as_dict() for g in self.gaps],
            "controls": [c.as_dict() for c in self.controls],
        }


def cadence_gaps(
    moments: Sequence[dt.datetime], start: dt.datetime, end: dt.datetime, cadence: dt.timedelta
) -> list[Gap]:
    """Intervals longer than TOLERANCE cadences between start, each moment and end."""
    points = [start, *sorted(moments), end]
    gaps = []
    for before, after in pairwise(points):
        if after - before > cadence * TOLERANCE:
            gaps.append(Gap(before, after, max(1, int((after - before) / cadence) - 1)))
    return gaps


def longest_failing(trend: Sequence[tuple[RunRef, ControlStatus]]) -> Stretch | None:
    best: Stretch | None = None
    current: list[RunRef] = []
    for run, status in trend:
        if status is ControlStatus.FAIL or (current and status not in _PROVEN):
            current.append(run)
            continue
        if current:
            candidate = Stretch(len(current), current[0].finished_at, run.finished_at, False)
            best = candidate if best is None or candidate.runs > best.runs else best
        current = []
    if current:
        candidate = Stretch(len(current), current[0].finished_at, current[-1].finished_at, True)
        best = candidate if best is None or candidate.runs > best.runs else best
    return best


def period_evidence(
    store: Any,
    period: Period,
    cadence: str,
    chosen: list[Framework] | None = None,
    now: dt.datetime | None = None,
) -> PeriodEvidence:
    """Load every run of the period from the store and judge each control in each run."""
    infos = store.runs(since=period.start, until=period.end - dt.timedelta(microseconds=1))
    runs = [RunRef(i.id, i.finished_at, i.complete) for i in infos]
    controls: dict[tuple[str, str], ControlPeriod] = {}
    for ref in runs:
        for verdict in control_verdicts(store.load(ref.id), chosen):
            key = (verdict.framework_id, verdict.control.id)
            entry = controls.setdefault(
                key, ControlPeriod(verdict.framework_id, verdict.control.id, verdict.control.title)
            )
            entry.trend.append((ref, verdict.status))
    # The period's end is not a missed run while it has not come yet.
    until = min(period.end, now or dt.datetime.now(dt.UTC))
    step = CADENCES[cadence]
    for entry in controls.values():
        assessed = [r.finished_at for r, s in entry.trend if s in _ASSESSED]
        entry.gaps = cadence_gaps(assessed, period.start, until, step)
        entry.longest_failing = longest_failing(entry.trend)
    return PeriodEvidence(
        period,
        cadence,
        runs,
        cadence_gaps([r.finished_at for r in runs], period.start, until, step),
        sorted(controls.values(), key=lambda c: (c.framework, c.control)),
        until,
    )
