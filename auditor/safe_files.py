"""Writing Auditor's own files (reports, facts bundles, history) without being steered by
what already sits in the output folder, and checking output paths before a scan starts.

* A file is written to a fresh temporary file in its folder, then renamed over the target
  name. A rename replaces a pre-existing symlink instead of writing through it, so a link
  planted at `out/report.html -> /etc/something` is never followed.
* A folder given for output must be a real folder: a symlink there is refused, because every
  file written into it would land wherever the link points.
* Target names become file names only through `file_stems`, which keeps a name that is already
  a safe file name and otherwise makes a slug with a digest of the name (no `/`, no `..`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path


class UnsafePathError(Exception):
    """An output path that cannot or must not be written; one line naming it."""


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


_FILE_MODE = 0o666 & ~_umask()  # what a plain open() would have created


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return path.lstat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UnsafePathError(f"{path}: cannot be used: {exc.strerror}") from None


def ensure_folder(folder: Path, what: str) -> None:
    """Make `folder` (and its parents) if needed and prove a file can be created in it.
    Refuses a symlink, a file where a folder is needed and anything not writable."""
    info = _lstat(folder)
    if info is not None and stat.S_ISLNK(info.st_mode):
        raise UnsafePathError(
            f"{folder}: {what} is a symbolic link; give the folder it points to instead"
        )
    if info is not None and not stat.S_ISDIR(info.st_mode):
        raise UnsafePathError(f"{folder}: {what} exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".auditor-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        where = exc.filename or folder
        raise UnsafePathError(f"{where}: {what} is not writable: {exc.strerror}") from None


def check_file_destination(path: Path, what: str) -> None:
    """A file about to be written at `path`: its folder must be usable and the path must not
    be a folder. (A symlink at the path itself is fine: it is replaced, not followed.)"""
    info = _lstat(path)
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise UnsafePathError(f"{path}: {what} is a folder, not a file")
    ensure_folder(path.parent if str(path.parent) else Path("."), f"folder of the {what}")


def write_file(path: Path, data: bytes, private: bool = False) -> None:
    """Write `data` at `path` through a temporary file and a rename (never through a link).
    `private` files (facts bundles) are readable by their owner only."""
    folder = path.parent
    info = _lstat(folder)
    if info is not None and stat.S_ISLNK(info.st_mode):
        raise UnsafePathError(f"{folder}: is a symbolic link; refusing to write into it")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name[:64]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600 if private else _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_SAFE_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


def file_stems(names: Iterable[str]) -> dict[str, str]:
    """A file-name stem for each name: the name itself when it is a plain, safe file name
    (letters, digits, `.`, `_`, `-`, not starting with a dot, at most 80 characters), else a
    slug plus 8 hex digits of the name's SHA-256 (so `a/b` and `a_b` stay apart). Names that
    differ only in case also get the digest, for case-insensitive file systems."""
    stems: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        if _SAFE_STEM.fullmatch(name) and ".." not in name:
            stem = name
        else:
            slug = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_-")[:60] or "target"
            stem = f"{slug}-{digest}"
        if stem.lower() in taken:
            stem = f"{stem}-{digest}"
        taken.add(stem.lower())
        stems[name] = stem
    return stems
