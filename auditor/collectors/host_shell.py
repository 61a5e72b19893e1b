"""Where host evidence comes from: this machine (read-only commands from an allow-list), or a
folder of evidence recorded on the database host by `auditor host-evidence` and audited
elsewhere. Both answer the same three questions, so the host collector cannot tell them apart.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

# Only inspection commands; nothing that opens, changes or formats a device.
ALLOWED = {"findmnt", "lsblk", "cryptsetup", "dmsetup", "blkid"}
ALLOWED_CRYPTSETUP = {"status", "luksDump", "isLuks"}


@dataclass(frozen=True)
class Output:
    returncode: int
    stdout: str
    stderr: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"returncode": self.returncode, "stdout": self.stdout, "stderr": self.stderr}


@dataclass(frozen=True)
class FileStat:
    mode: int  # permission bits
    uid: int
    gid: int


class HostShell(Protocol):
    def run(self, argv: list[str]) -> Output: ...

    def read_text(self, path: str) -> str | None: ...

    def stat(self, path: str) -> FileStat | None: ...


def _check_allowed(argv: list[str]) -> None:
    if not argv or argv[0] not in ALLOWED:
        raise PermissionError(f"command not on the inspection allow-list: {argv[:1]}")
    if argv[0] == "cryptsetup" and (len(argv) < 2 or argv[1] not in ALLOWED_CRYPTSETUP):
        raise PermissionError(f"cryptsetup {argv[1:2]} is not an inspection command")


class LocalShell:
    """Runs allow-listed inspection commands on this machine."""

    def run(self, argv: list[str]) -> Output:
        _check_allowed(argv)
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        except FileNotFoundError:
            return Output(127, "", f"{argv[0]}: command not found")
        except subprocess.TimeoutExpired:
            return Output(124, "", f"{argv[0]}: timed out")
        return Output(proc.returncode, proc.stdout, proc.stderr)

    def read_text(self, path: str) -> str | None:
        try:
            return Path(path).read_text()
        except OSError:
            return None

    def stat(self, path: str) -> FileStat | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return FileStat(stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)


def command_key(argv: list[str]) -> str:
    return shlex.join(argv)


class RecordingShell:
    """Wraps a shell and keeps every answer, to be saved as an evidence folder."""

    def __init__(self, inner: HostShell) -> None:
        self.inner = inner
        self.commands: dict[str, dict[str, Any]] = {}
        self.files: dict[str, str | None] = {}
        self.stats: dict[str, dict[str, int] | None] = {}

    def run(self, argv: list[str]) -> Output:
        out = self.inner.run(argv)
        self.commands[command_key(argv)] = out.as_dict()
        return out

    def read_text(self, path: str) -> str | None:
        self.files[path] = self.inner.read_text(path)
        return self.files[path]

    def stat(self, path: str) -> FileStat | None:
        found = self.inner.stat(path)
        self.stats[path] = (
            None if found is None else {"mode": found.mode, "uid": found.uid, "gid": found.gid}
        )
        return found

    def document(self) -> dict[str, Any]:
        return {
            "schema": "auditor/host-evidence/v1",
            "commands": self.commands,
            "files": self.files,
            "stats": self.stats,
        }

    def save(self, folder: Path, document: dict[str, Any] | None = None) -> Path:
        """Write `document` (default: what was recorded) as host-evidence.json in `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "host-evidence.json"
        body = self.document() if document is None else document
        path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
        return path


class EvidenceShell:
    """Answers from a recorded evidence file; a question that was not recorded is an error
    output, never a guess."""

    def __init__(self, path: Path) -> None:
        data = json.loads(path.read_text())
        if data.get("schema") != "auditor/host-evidence/v1":
            raise ValueError(f"{path}: not an Auditor host evidence file")
        self.commands: dict[str, dict[str, Any]] = data.get("commands", {})
        self.files: dict[str, str | None] = data.get("files", {})
        self.stats: dict[str, dict[str, int] | None] = data.get("stats", {})

    def run(self, argv: list[str]) -> Output:
        _check_allowed(argv)
        found = self.commands.get(command_key(argv))
        if found is None:
            return Output(126, "", f"not recorded: {command_key(argv)}")
        return Output(found["returncode"], found["stdout"], found.get("stderr", ""))

    def read_text(self, path: str) -> str | None:
        return self.files.get(path)

    def stat(self, path: str) -> FileStat | None:
        found = self.stats.get(path)
        return None if found is None else FileStat(found["mode"], found["uid"], found["gid"])
