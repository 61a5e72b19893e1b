"""Does everything a config refers to exist on this machine? Environment variables named by
`{env: NAME}`, files named by `{file: PATH}`, and the files a target reads (certificates in
the DSN, `hba_file`, host `evidence`, CA bundles).

`auditor validate` and `auditor scan` ask this before anything is scanned, so a missing
secret is a configuration error (exit 2, every problem listed) instead of a scan that writes
a folder of errors. Only presence is checked: no value is read, so nothing here can leak one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from auditor.config import (
    ConfigError,
    EnvPassword,
    FilePassword,
    HostTarget,
    PostgresTarget,
    ScanConfig,
    read_text_file,
    yaml_document,
)
from auditor.secret_refs import StoreRef, VaultPassword

Locator = Callable[[tuple[Any, ...]], str]

# Target fields that name a file read at scan time, relative to the config file's folder.
FILE_FIELDS = ("hba_file", "evidence", "ca_bundle", "public_key", "sslrootcert")


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


def _ref_problem(value: object, config_dir: Path) -> str | None:
    if isinstance(value, EnvPassword) and value.env not in os.environ:
        return f"environment variable {value.env} is not set"
    if isinstance(value, FilePassword):
        return _file_problem(_resolve(value.file, config_dir))
    return None


def _store_problems(ref: BaseModel, config_dir: Path) -> list[str]:
    """What a secret-store reference needs from this machine: the tokens and CA bundle it
    names, and for Vault an address and token (given, or VAULT_ADDR/VAULT_TOKEN). Whether the
    secret exists is only known by asking the store, which a scan does."""
    problems = []
    for field in type(ref).model_fields:
        value = getattr(ref, field)
        found = _ref_problem(value, config_dir)
        if found is None and field == "ca_bundle" and isinstance(value, str):
            found = _file_problem(_resolve(value, config_dir))
        if found:
            problems.append(f"{field}: {found}")
    if isinstance(ref, VaultPassword):
        if ref.address is None and "VAULT_ADDR" not in os.environ:
            problems.append("no Vault address: give address: or set VAULT_ADDR")
        if ref.token is None and "VAULT_TOKEN" not in os.environ:
            problems.append("no Vault token: give token: {env: NAME} or set VAULT_TOKEN")
    return problems


def _reference_problems(target: BaseModel, config_dir: Path) -> list[tuple[str, str]]:
    """(key, problem) for each missing reference of one target."""
    problems: list[tuple[str, str]] = []
    for key in type(target).model_fields:
        value = getattr(target, key)
        if isinstance(value, EnvPassword):
            if value.env not in os.environ:
                problems.append((key, f"environment variable {value.env} is not set"))
        elif isinstance(value, FilePassword):
            found = _file_problem(_resolve(value.file, config_dir))
            if found:
                problems.append((key, found))
        elif isinstance(value, StoreRef):
            problems.extend((key, problem) for problem in _store_problems(value, config_dir))
        elif key in FILE_FIELDS and isinstance(value, str) and value:
            found = _file_problem(_resolve(value, config_dir))
            if found:
                problems.append((key, found))
        elif isinstance(value, BaseModel) and key != "ssh":  # nested: connect: {password: ...}
            problems.extend((f"{key}.{k}", p) for k, p in _reference_problems(value, config_dir))
    if isinstance(target, HostTarget) and target.ssh is not None:
        ssh = target.ssh
        for key, value in (("ssh.key", ssh.key), ("ssh.known_hosts", ssh.known_hosts)):
            found = _file_problem(_resolve(value, config_dir))
            if found:
                problems.append((key, found))
        if isinstance(ssh.passphrase, EnvPassword) and ssh.passphrase.env not in os.environ:
            problems.append(
                ("ssh.passphrase", f"environment variable {ssh.passphrase.env} is not set")
            )
        elif isinstance(ssh.passphrase, FilePassword):
            found = _file_problem(_resolve(ssh.passphrase.file, config_dir))
            if found:
                problems.append(("ssh.passphrase", found))
    if isinstance(target, PostgresTarget):
        for param, path in target.file_params(config_dir).items():
            found = _file_problem(Path(path))
            if found:
                problems.append(("dsn", f"{param} {found}"))
    return problems


def config_locator(path: Path) -> Locator:
    """Where a key of the config file at `path` is written, as `file:line`."""
    text = read_text_file(path, "config", ConfigError)
    _, located = yaml_document(text, str(path))

    def where(loc: tuple[Any, ...]) -> str:
        line = located.line_for(loc)
        return f"{path}:{line}" if line else str(path)

    return where


def missing_references(
    config: ScanConfig,
    config_dir: Path,
    where: Locator | None = None,
    only: Collection[str] | None = None,
) -> list[str]:
    """One line per missing environment variable or file, naming file:line, the target's key
    and the target (`where` maps a key path to `file:line`; without it, the target's name)."""
    lines = []
    for index, target in enumerate(config.targets):
        if only is not None and target.name not in only:
            continue  # not selected for this run (--target/--label): its secrets are not needed
        for key, problem in _reference_problems(target, config_dir):
            place = f"{where(('targets', index, *key.split('.')))}: " if where else ""
            lines.append(f"{place}targets[{index}].{key} (target {target.name!r}): {problem}")
    return lines
