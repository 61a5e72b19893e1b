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

from pydantic import BaseModel, ConfigDict, ValidationError

from auditor.formatters.json_results import (
    SCHEMA_ID,
    ResultsFileError,
    results_from_dict,
    results_to_dict,
)
from auditor.model import Result, ScanResults, Status
from auditor.redact import redact_results
from auditor.safe_files import ensure_folder, write_file
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


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class _Tool(_Loose):
    version: str


class _Run(_Loose):
    id: str
    started_at: str
    finished_at: str
    config_digest: str | None = None


class _Target(_Loose):
    name: str
    kind: str
    status: str
    error: str | None = None


class _Control(_Loose):
    framework: str
    id: str


class _Finding(_Loose):
    check_id: str
    target: str
    resource: str | None = None
    status: str
    severity: str
    title: str
    message: str
    evidence: dict[str, Any] | None = None
    remediation: str = ""
    controls: list[_Control]


class _ResultsShape(_Loose):
    tool: _Tool
    run: _Run
    targets: list[_Target]
    findings: list[_Finding]


def parse_results(data: Any) -> ScanResults:
    """A results document (`auditor/results/v1`) checked for shape first, so a file with the
    right schema id but wrong types is a one-line error, not a crash in a formatter later."""
    if not isinstance(data, dict):
        raise ResultsFileError("not an Auditor results file (top level is not an object)")
    if data.get("schema") == SCHEMA_ID:
        try:
            _ResultsShape.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ResultsFileError(f"malformed results file: {where}: {first['msg']}") from None
    return results_from_dict(data)


def load_results(path: Path) -> ScanResults:
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ResultsFileError(f"{path}: results file not found") from None
    except OSError as exc:
        raise ResultsFileError(f"{path}: cannot read results file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ResultsFileError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ResultsFileError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise ResultsFileError(f"{path}: JSON nested too deeply") from None
    try:
        return parse_results(data)
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

    def check(self) -> None:
        """Refuse (UnsafePathError) a history folder that cannot be used, before a scan."""
        ensure_folder(self.folder, "history folder")

    def save(self, results: ScanResults) -> Path:
        """Write the run, redacted (auditor.redact), through a temporary file and a rename."""
        self.check()
        stamp = re.sub(r"[^0-9A-Za-z]", "", results.finished_at)
        run = re.sub(r"[^0-9A-Za-z-]", "", results.run_id[:8])
        path = self.folder / f"{stamp}-{run}.results.json"
        body = json.dumps(results_to_dict(redact_results(results)), indent=2) + "\n"
        write_file(path, body.encode())
        return path
