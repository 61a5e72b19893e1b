"""Since when has a failure been failing? The start of its current failing stretch.

Walking back through earlier runs of the same target, newest first, a failing verdict in
this run inherits the first-seen time of the same (target, check, resource) when that run
also had it failing (or waived). It is new from this run when an earlier run evaluated it
and did not fail: a pass, or the check ran cleanly on the target and no longer reported
the resource. Runs that could not evaluate it (target unreachable, check out of scope, an
error or skip) neither continue nor break the stretch — nobody knows — so the walk looks
further back: the same rule auditor/diff.py uses, so a broken login never resets an age.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from auditor.model import ScanResults, Status, TargetStatus

if TYPE_CHECKING:
    from auditor.store.db import HistoryDB

Key = tuple[str, str, str]  # target, check id, resource ("" target-level)

_FAILING = {Status.FAIL.value, Status.WAIVED.value}
_NOT_EVALUATED = {Status.ERROR.value, Status.SKIP.value}
MAX_RUNS_BACK = 1000  # a bound on the walk; a stretch older than that starts at the bound


def first_seen(results: ScanResults, store: HistoryDB) -> dict[Key, tuple[dt.datetime, str]]:
    from auditor.store.db import parse_time

    started = parse_time(results.started_at)
    found: dict[Key, tuple[dt.datetime, str]] = {}
    by_target: dict[str, set[Key]] = {}
    for f in results.findings:
        if f.status in (Status.FAIL, Status.WAIVED):
            by_target.setdefault(f.target, set()).add((f.target, f.check_id, f.resource or ""))
    for target, open_keys in by_target.items():
        for walked, (run_id, run_started, status, scope, rows) in enumerate(
            store.target_history(target, started, results.run_id)
        ):
            if not open_keys or walked >= MAX_RUNS_BACK:
                break
            if status != TargetStatus.SCANNED.value:
                continue
            verdicts = {(target, r.check_id, r.resource): r for r in rows}
            unclean = {r.check_id for r in rows if r.status in _NOT_EVALUATED}
            for key in list(open_keys):
                check = key[1]
                if scope and check not in scope:
                    continue
                row = verdicts.get(key)
                if row is not None and row.status in _FAILING:
                    since = row.first_seen or run_started
                    found[key] = (since, row.first_seen_run or run_id)
                elif row is not None and row.status in _NOT_EVALUATED:
                    continue
                elif row is None and (check in unclean or (not scope and not _ran(rows, check))):
                    continue  # not evaluated there (or, unscoped, maybe not selected)
                # else: evaluated and not failing: the stretch starts with this run
                open_keys.discard(key)
    return found


def _ran(rows: list[object], check: str) -> bool:
    return any(getattr(r, "check_id", None) == check for r in rows)
