"""What `auditor checks list` shows (id, severity, title, kinds) without importing the checks.

Building the catalog imports every check module, and with them the fact models, psycopg,
pydantic and YAML: seconds of start-up for a listing. The listing is therefore kept in a
small cache file in the user's cache folder, keyed by a digest of the check sources
themselves (and of the Auditor version), so that any edit to a check module, an upgrade or
a different checkout rebuilds it; it is never trusted when a plugin publishes checks through
the `auditor.checks` entry-point group (the plugin's own code is not in the digest), nor
when it cannot be read. A cache that cannot be written is not an error: the listing is then
built from the catalog each time, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ENTRY_POINT_GROUP = "auditor.checks"  # the same group as auditor.catalog.ENTRY_POINT_GROUP
CACHE_ENV = "AUDITOR_CACHE_DIR"
CACHE_NAME = "check-index.json"
_PACKAGE = Path(__file__).resolve().parent


class CheckIndexError(Exception):
    """The catalog could not be built (auditor.catalog.CatalogError, e.g. a broken plugin)."""


@dataclass(frozen=True)
class CheckRow:
    id: str
    severity: str
    title: str
    kinds: tuple[str, ...]


def cache_folder() -> Path:
    """$AUDITOR_CACHE_DIR, else the XDG cache folder (~/.cache) plus `auditor`."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "auditor"


def sources_digest() -> str:
    """Digest of everything a listing row comes from: the check modules (titles, severities
    and kinds are class attributes there, possibly inherited within the package), the
    Severity enum's module and the version."""
    from auditor import __version__

    digest = hashlib.sha256(f"auditor {__version__}\n".encode())
    files = [*sorted((_PACKAGE / "checks").rglob("*.py")), _PACKAGE / "model.py"]
    for path in files:
        digest.update(f"{path.name}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def plugins_may_exist() -> bool:
    """True when any distribution on sys.path declares the `auditor.checks` entry-point group
    (or when a sys.path entry is an archive this quick look cannot read). A plain scan of
    the `*.dist-info`/`*.egg-info` folders: importing importlib.metadata alone costs more
    than the whole listing should."""
    header = f"[{ENTRY_POINT_GROUP}]"
    for entry in sys.path:
        folder = entry or "."
        if os.path.isfile(folder):  # a zip or egg on the path: let importlib.metadata decide
            return True
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(folder, name, "entry_points.txt"), encoding="utf-8") as f:
                    if any(line.strip() == header for line in f):
                        return True
            except (OSError, UnicodeDecodeError):
                continue
    return False


def rows_from_catalog() -> list[CheckRow]:
    """The slow path: import the catalog."""
    from auditor.catalog import CatalogError, all_checks

    try:
        catalog = all_checks()
    except CatalogError as exc:
        raise CheckIndexError(str(exc)) from exc
    return [
        CheckRow(c.id, c.severity.value, c.title, tuple(sorted(c.kinds))) for c in catalog.values()
    ]


def _read_cache(path: Path, key: str) -> list[CheckRow] | None:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        return [
            CheckRow(str(r["id"]), str(r["severity"]), str(r["title"]), tuple(r["kinds"]))
            for r in data["checks"]
        ]
    except (OSError, ValueError, KeyError, TypeError):  # missing, torn or foreign: rebuild
        return None


def _write_cache(path: Path, key: str, rows: list[CheckRow]) -> None:
    body = json.dumps({"key": key, "checks": [asdict(r) for r in rows]}, indent=1)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(body, encoding="utf-8")
        os.replace(temporary, path)  # readers see the old file or the new one, never half
    except OSError:  # a read-only home or cache folder: list without a cache
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def check_rows() -> list[CheckRow]:
    """Every check's listing row, sorted by id, from the cache when it is current."""
    if plugins_may_exist():
        return rows_from_catalog()
    try:
        key = sources_digest()
    except OSError:  # sources not readable as files (e.g. a zipped install)
        return rows_from_catalog()
    path = cache_folder() / CACHE_NAME
    cached = _read_cache(path, key)
    if cached is not None:
        return cached
    rows = rows_from_catalog()
    _write_cache(path, key, rows)
    return rows
