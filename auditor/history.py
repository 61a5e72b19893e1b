"""Scan history for scheduled scans: keep each run's results JSON in a folder and tell what
changed since the last comparable run (auditor/diff.py says how, honestly).

History files are the same `auditor/results/v1` documents as `--format json`: they hold no
secrets or raw sampled values, because results never do.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from auditor.diff import ResultsDiff, comparable, diff_results
from auditor.formatters.json_results import (
    SCHEMA_ID,
    ResultsFileError,
    results_from_dict,
    results_to_dict,
)
from auditor.model import ScanResults
from auditor.redact import redact_results
from auditor.safe_files import ensure_folder, write_file

__all__ = [
    "HistoryLocationError",
    "HistoryStore",
    "ResultsDiff",
    "diff_results",
    "history_folder",
    "load_results",
]


class HistoryLocationError(Exception):
    """A --history value this version cannot store into; the message is one line."""


# scheme://… (s3://, sqlite:///, postgresql://); a scheme of two or more characters, so a
# Windows drive letter (C:/runs) stays a path.
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+)://")


def history_folder(value: str) -> Path:
    """The folder a --history value names. URL-looking values are refused: a database or
    object-store history is not built yet, and silently creating a local folder named
    'sqlite:' or 's3:' would lose every run. The URL itself is never echoed (it may carry a
    password)."""
    match = _URL.match(value)
    if match:
        raise HistoryLocationError(
            f"--history: {match.group(1)!r} URLs are not supported yet; give a folder path "
            "(results files are kept there); SQLite and PostgreSQL history stores are "
            "future work"
        )
    return Path(value)


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

    def latest_comparable(
        self, results: ScanResults, before: Path | None = None
    ) -> tuple[Path, ScanResults] | None:
        """The newest run (older than `before`, when given) sharing at least one check and
        one target with `results`: the run a diff or a `--baseline last` compares with."""
        for path in reversed(self.runs()):
            if before is not None and path >= before:
                continue
            old = load_results(path)
            if old.run_id != results.run_id and comparable(old, results):
                return path, old
        return None

    def find(self, run: str) -> Path:
        """A run by its id (or a unique prefix of it) or its file name."""
        runs = self.runs()
        hits = [p for p in runs if p.name == run or p.name == f"{run}.results.json"]
        if not hits:
            hits = [p for p in runs if _run_id_of(p).startswith(run)] if run else []
        if len(hits) != 1:
            problem = "no run" if not hits else f"{len(hits)} runs"
            raise ResultsFileError(f"{self.folder}: {problem} matching {run!r}")
        return hits[0]

    def save(self, results: ScanResults) -> Path:
        """Write the run, redacted (auditor.redact), through a temporary file and a rename."""
        self.check()
        stamp = re.sub(r"[^0-9A-Za-z]", "", results.finished_at)
        run = re.sub(r"[^0-9A-Za-z-]", "", results.run_id[:8])
        path = self.folder / f"{stamp}-{run}.results.json"
        body = json.dumps(results_to_dict(redact_results(results)), indent=2) + "\n"
        write_file(path, body.encode())
        return path


def _run_id_of(path: Path) -> str:
    # Files are named STAMP-RUNID8.results.json; the full id is inside the file.
    try:
        return load_results(path).run_id
    except ResultsFileError:
        return ""
