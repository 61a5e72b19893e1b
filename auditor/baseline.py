"""`auditor scan --baseline last|RUN_ID|RESULTS.json --new-only`: gate only on failures the
baseline did not already have, so a team can adopt the scanner on a weak estate and still stop
things from getting worse.

A failure is "known" when the baseline reported the same check, target and resource as
failing (or waived). Anything else — including a failure of a check the baseline did not run
— is new and gates: a baseline can only excuse what it saw.

`last` is the newest earlier run in the history store comparable with this one; RUN_ID a
run in the store (full id or unique prefix); anything else a results file. An existing file
wins over a run id of the same spelling.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.formatters.json_results import ResultsFileError
from auditor.history import load_results
from auditor.model import Result, ScanResults, Status

if TYPE_CHECKING:
    from auditor.store.db import HistoryDB

Key = tuple[str, str, str]


class BaselineError(Exception):
    """A baseline that cannot be used; one line for the CLI (exit 2)."""


@dataclass(frozen=True)
class BaselineSpec:
    """What --baseline asked for, checked before anything is scanned."""

    last_in: HistoryDB | None = None  # `last`: the store to look in
    results: ScanResults | None = None  # a results file or stored run, loaded up front
    label: str = ""

    def resolve(self, current: ScanResults) -> ScanResults | None:
        """The baseline for this run; None when `last` finds no comparable earlier run."""
        if self.results is not None:
            return self.results
        assert self.last_in is not None
        from auditor.store.db import StoreError

        try:
            return self.last_in.latest_comparable(current)
        except StoreError as exc:
            raise BaselineError(f"--baseline last: {exc}") from None


def parse_baseline(value: str, history: HistoryDB | None) -> BaselineSpec:
    from auditor.store.db import StoreError

    if value == "last":
        if history is None:
            raise BaselineError("--baseline last needs --history URL (the runs it picks from)")
        return BaselineSpec(
            last_in=history, label=f"last comparable run in {history.location.label}"
        )
    path = Path(value)
    if history is not None and not path.exists():
        try:
            run_id = history.find(value)
            return BaselineSpec(results=history.load(run_id), label=f"run {run_id}")
        except StoreError as exc:
            raise BaselineError(
                f"--baseline {value}: no such results file, and {str(exc).split(': ', 1)[-1]}"
            ) from None
    try:
        return BaselineSpec(results=load_results(path), label=value)
    except ResultsFileError as exc:
        raise BaselineError(f"--baseline: {exc}") from None


def _key(r: Result) -> Key:
    return (r.target, r.check_id, r.resource or "")


def known_failures(baseline: ScanResults) -> frozenset[Key]:
    return frozenset(_key(r) for r in baseline.findings if r.status in (Status.FAIL, Status.WAIVED))
