"""Reading results files (`auditor/results/v1`, as `--format json` writes them), checked for
shape, and the folder of results files that earlier versions kept as history (now only read
by `auditor history import`; the history itself is a database, auditor/store).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from auditor.diff import ResultsDiff, diff_results
from auditor.formatters.json_results import (
    SCHEMA_ID,
    ResultsFileError,
    results_from_dict,
)
from auditor.model import ScanResults

__all__ = [
    "HistoryStore",
    "ResultsDiff",
    "diff_results",
    "load_results",
]


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
    """A folder of results files, the history format of versions before the store
    (auditor/store): read only, for `auditor history import DIR`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def runs(self) -> list[Path]:
        return sorted(self.folder.glob("*.results.json")) if self.folder.is_dir() else []
