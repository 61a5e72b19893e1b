"""Where the history store lives: a --history value (or $AUDITOR_HISTORY) made into a
SQLAlchemy URL, one code path for SQLite and PostgreSQL.

* `sqlite:///path/history.db`, or a plain path: a SQLite file (its folder is made).
* `postgresql://…` / `postgres://…` / `postgresql+psycopg://…`: PostgreSQL through psycopg 3.
* `default`: the embedded default, `history.db` in the user's data folder
  (`$XDG_DATA_HOME/auditor/` on Linux).

Anything else is refused with one line: an `s3://` or `sqlite://` (in-memory) history would
silently lose every run. A folder of results files kept by older versions is refused too,
with the command that imports it. URLs are only ever shown with their password masked.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from auditor.safe_files import UnsafePathError, ensure_folder

DEFAULT_NAME = "default"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+)://")


class StoreLocationError(Exception):
    """A --history value that names no usable store; the message is one line."""


@dataclass(frozen=True)
class StoreLocation:
    url: URL
    label: str  # what messages show: the path, or the URL without its password

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"


def default_path() -> Path:
    """`history.db` in the user's data folder (platformdirs: XDG on Linux)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("auditor", appauthor=False)) / "history.db"


def _sqlite(path: Path) -> StoreLocation:
    if path.is_dir():
        raise StoreLocationError(
            f"{path}: is a folder; the history is a database file now. A folder of results "
            f"files from an older version can be imported: `auditor history import {path} "
            f"--history {path}.db`"
        )
    try:
        ensure_folder(path.parent if str(path.parent) else Path("."), "history folder")
    except UnsafePathError as exc:
        raise StoreLocationError(str(exc)) from None
    if path.is_symlink():
        raise StoreLocationError(f"{path}: history file is a symbolic link; give its target")
    return StoreLocation(URL.create("sqlite+pysqlite", database=str(path)), str(path))


def parse_location(value: str) -> StoreLocation:
    """The store a --history value names (nothing is created but the SQLite file's folder)."""
    if value == DEFAULT_NAME:
        return _sqlite(default_path())
    match = _SCHEME.match(value)
    if not match:
        if not value.strip():
            raise StoreLocationError("--history: empty value")
        return _sqlite(Path(os.path.expanduser(value)))
    scheme = match.group(1).lower()
    try:
        url = make_url(value)
    except ArgumentError:
        raise StoreLocationError(f"--history: malformed {scheme!r} URL") from None
    safe = url.render_as_string(hide_password=True)
    if scheme in ("sqlite", "sqlite+pysqlite"):
        if not url.database or url.database == ":memory:":
            raise StoreLocationError(
                "--history: an in-memory SQLite database would lose every run; give a file "
                "(sqlite:///path/history.db)"
            )
        return _sqlite(Path(url.database))
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        return StoreLocation(url.set(drivername="postgresql+psycopg"), safe)
    raise StoreLocationError(
        f"--history: {scheme!r} URLs are not supported; give a SQLite file path, "
        "sqlite:///path.db or postgresql://…"
    )
