"""Scan history for scheduled scans: keep each run's results JSON in a folder and tell what
changed since the previous run (new failures, resolved ones, other status changes).

History files are the same `auditor/results/v1` documents as `--format json`: they hold no
secrets or raw sampled values, because results never do.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.formatters.json_results import (
    ResultsFileError,
    results_from_dict,
    results_to_dict,
)
from auditor.model import Result, ScanResults, Status
from auditor.safe_text import display_text

Key = tuple[str, str, str]  # target, check id, resource


def _key(r: Result) -> Key:
    return (r.target, r.check_id, r.resource or "")


@dataclass(frozen=True)
class Change:
    key: Key
    before: Status | None  # None: not reported in that run
    after: Status | None
    severity: str
    title: str

    def as_dict(self) -> dict[str, Any]:
        target, check_id, resource = self.key
        return {
            "target": target,
            "check_id": check_id,
            "resource": resource or None,
            "before": self.before.value if self.before else None,
            "after": self.after.value if self.after else None,
            "severity": self.severity,
            "title": self.title,
        }


@dataclass(frozen=True)
class ResultsDiff:
    new_failures: tuple[Change, ...]
    resolved: tuple[Change, ...]
    other_changes: tuple[Change, ...]
    unchanged: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "new_failures": [c.as_dict() for c in self.new_failures],
            "resolved": [c.as_dict() for c in self.resolved],
            "other_changes": [c.as_dict() for c in self.other_changes],
            "unchanged": self.unchanged,
        }

    def lines(self) -> list[str]:
        def fmt(c: Change) -> str:
            target, check_id, resource = c.key
            # Names come from the scanned systems: one visible line, no control characters.
            where = display_text(f"{target}" + (f" / {resource}" if resource else ""))
            before = c.before.value if c.before else "absent"
            after = c.after.value if c.after else "absent"
            return f"  {check_id:40} {where}: {before} -> {after}"

        out = [
            f"{len(self.new_failures)} new failure(s), {len(self.resolved)} resolved, "
            f"{len(self.other_changes)} other change(s), {self.unchanged} unchanged"
        ]
        for title, group in (
            ("new failures", self.new_failures),
            ("resolved", self.resolved),
            ("other changes", self.other_changes),
        ):
            if group:
                out.append(f"{title}:")
                out.extend(fmt(c) for c in group)
        return out


def diff_results(old: ScanResults, new: ScanResults) -> ResultsDiff:
    before = {_key(r): r for r in old.findings}
    after = {_key(r): r for r in new.findings}
    new_failures, resolved, other = [], [], []
    unchanged = 0
    for key in sorted(before.keys() | after.keys()):
        b, a = before.get(key), after.get(key)
        b_status, a_status = (b.status if b else None), (a.status if a else None)
        if b_status == a_status:
            unchanged += 1
            continue
        ref = a or b
        assert ref is not None
        change = Change(key, b_status, a_status, ref.severity.value, ref.title)
        if a_status is Status.FAIL:
            new_failures.append(change)
        elif b_status is Status.FAIL:
            resolved.append(change)
        else:
            other.append(change)
    return ResultsDiff(tuple(new_failures), tuple(resolved), tuple(other), unchanged)


def load_results(path: Path) -> ScanResults:
    try:
        return results_from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise ResultsFileError(f"{path}: no such results file") from None
    except json.JSONDecodeError as exc:
        raise ResultsFileError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
    except ResultsFileError as exc:
        raise ResultsFileError(f"{path}: {exc}") from None


class HistoryStore:
    """A folder of results files named by finish time, oldest first when sorted."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def runs(self) -> list[Path]:
        return sorted(self.folder.glob("*.results.json")) if self.folder.is_dir() else []

    def latest(self) -> ScanResults | None:
        runs = self.runs()
        return load_results(runs[-1]) if runs else None

    def save(self, results: ScanResults) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = re.sub(r"[^0-9A-Za-z]", "", results.finished_at)
        path = self.folder / f"{stamp}-{results.run_id[:8]}.results.json"
        path.write_text(json.dumps(results_to_dict(results), indent=2) + "\n")
        return path
