"""`auditor scan --baseline last|RESULTS.json --new-only`: gate only on failures the baseline
did not already have, so a team can adopt the scanner on a weak estate and still stop things
from getting worse.

A failure is "known" when the baseline reported the same check, target and resource as
failing (or waived). Anything else — including a failure of a check the baseline did not run
— is new and gates: a baseline can only excuse what it saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from auditor.formatters.json_results import ResultsFileError
from auditor.history import HistoryStore, load_results
from auditor.model import Result, ScanResults, Status

Key = tuple[str, str, str]


class BaselineError(Exception):
    """A baseline that cannot be used; one line for the CLI (exit 2)."""


@dataclass(frozen=True)
class BaselineSpec:
    """What --baseline asked for, checked before anything is scanned."""

    last_in: Path | None = None  # `last`: the history folder to look in
    results: ScanResults | None = None  # a results file, loaded up front
    label: str = ""

    def resolve(self, current: ScanResults) -> ScanResults | None:
        """The baseline for this run; None when `last` finds no comparable earlier run."""
        if self.results is not None:
            return self.results
        assert self.last_in is not None
        try:
            found = HistoryStore(self.last_in).latest_comparable(current)
        except ResultsFileError as exc:
            raise BaselineError(f"--baseline last: {exc}") from None
        return found[1] if found else None


def parse_baseline(value: str, history: Path | None) -> BaselineSpec:
    if value == "last":
        if history is None:
            raise BaselineError("--baseline last needs --history DIR (the runs it picks from)")
        return BaselineSpec(last_in=history, label=f"last comparable run in {history}")
    try:
        return BaselineSpec(results=load_results(Path(value)), label=value)
    except ResultsFileError as exc:
        raise BaselineError(f"--baseline: {exc}") from None


def _key(r: Result) -> Key:
    return (r.target, r.check_id, r.resource or "")


def known_failures(baseline: ScanResults) -> frozenset[Key]:
    return frozenset(_key(r) for r in baseline.findings if r.status in (Status.FAIL, Status.WAIVED))
