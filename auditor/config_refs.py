"""Does everything a config refers to exist on this machine? Environment variables named by
`{env: NAME}`, files named by `{file: PATH}`, and the files a target reads (certificates in
the DSN, `hba_file`, host `evidence`, CA bundles).

`auditor validate` and `auditor scan` ask this before anything is scanned, so a missing
secret is a configuration error (exit 2, every problem listed) instead of a scan that writes
a folder of errors. Only presence is checked: no value is read, so nothing here can leak one.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel

from auditor.config import EnvPassword, FilePassword, PostgresTarget, ScanConfig

# Target fields that name a file read at scan time, relative to the config file's folder.
FILE_FIELDS = ("hba_file", "evidence", "ca_bundle", "public_key")


def _resolve(value: str, config_dir: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else config_dir / path


def _file_problem(path: Path) -> str | None:
    if not path.exists():
        return f"file {path} not found"
    if path.is_dir():
        return f"{path} is a folder, not a file"
    if not os.access(path, os.R_OK):
        return f"file {path} is not readable"
    return None


def _reference_problems(target: BaseModel, config_dir: Path) -> list[str]:
    problems: list[str] = []
    for key in type(target).model_fields:
        value = getattr(target, key)
        if isinstance(value, EnvPassword):
            if value.env not in os.environ:
                problems.append(f"{key}: environment variable {value.env} is not set")
        elif isinstance(value, FilePassword):
            found = _file_problem(_resolve(value.file, config_dir))
            if found:
                problems.append(f"{key}: {found}")
        elif key in FILE_FIELDS and isinstance(value, str) and value:
            found = _file_problem(_resolve(value, config_dir))
            if found:
                problems.append(f"{key}: {found}")
    if isinstance(target, PostgresTarget):
        for param, path in target.file_params(config_dir).items():
            found = _file_problem(Path(path))
            if found:
                problems.append(f"dsn {param}: {found}")
    return problems


def missing_references(config: ScanConfig, config_dir: Path) -> list[str]:
    """One line per missing environment variable or file, naming the target and key."""
    return [
        f"target {target.name!r}: {problem}"
        for target in config.targets
        for problem in _reference_problems(target, config_dir)
    ]
