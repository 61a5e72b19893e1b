"""Scan history for scheduled scans: keep each run's results JSON in a folder and tell what
changed since the last comparable run (auditor/diff.py says how, honestly).

History files are the same `auditor/results/v1` documents as `--format json`: they hold no
secrets or raw sampled values, because results never do.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from auditor.diff import ResultsDiff, comparable, diff_results
from auditor.formatters.json_results import (
    ResultsFileError,
    results_from_dict,
    results_to_dict,
)
from auditor.model import ScanResults

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
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = re.sub(r"[^0-9A-Za-z]", "", results.finished_at)
        path = self.folder / f"{stamp}-{results.run_id[:8]}.results.json"
        path.write_text(json.dumps(results_to_dict(results), indent=2) + "\n")
        return path


def _run_id_of(path: Path) -> str:
    # Files are named STAMP-RUNID8.results.json; the full id is inside the file.
    try:
        return load_results(path).run_id
    except ResultsFileError:
        return ""
