"""The evidence manifest: SHA-256 of the results document, of each finding's evidence block and
of every report file written beside them, so an auditor can later prove that a report folder
is what the scan produced (`auditor verify REPORT_DIR`).

Digests are over canonical bytes: the results file exactly as the `json` formatter writes it,
and each evidence block as sorted, compact JSON. Nothing here reads a clock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.formatters.base import Formatter, RenderOptions
from auditor.formatters.json_results import (
    JsonFormatter,
    ResultsFileError,
    results_from_dict,
)
from auditor.model import ScanResults
from auditor.safe_files import UnsafePathError, ensure_folder, write_file

MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA = "auditor/manifest/v1"
RESULTS_NAME = JsonFormatter.extension


class ManifestError(Exception):
    """A report folder cannot be written or read; one line naming the file."""


@dataclass(frozen=True)
class EvidenceEntry:
    index: int  # position in results.findings (which are sorted)
    target: str
    check_id: str
    resource: str | None
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "target": self.target,
            "check_id": self.check_id,
            "resource": self.resource,
            "sha256": self.sha256,
        }


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def results_bytes(results: ScanResults) -> bytes:
    return JsonFormatter().render(results, RenderOptions())


def results_digest(results: ScanResults) -> str:
    return sha256_hex(results_bytes(results))


def evidence_entries(results: ScanResults) -> list[EvidenceEntry]:
    return [
        EvidenceEntry(i, f.target, f.check_id, f.resource, sha256_hex(canonical_json(f.evidence)))
        for i, f in enumerate(results.findings)
    ]


def build_manifest(results: ScanResults, files: dict[str, bytes]) -> dict[str, Any]:
    """The manifest document for `results` and the report files (name -> content)."""
    return {
        "schema": MANIFEST_SCHEMA,
        "algorithm": "sha256",
        "run_id": results.run_id,
        "results": {"file": RESULTS_NAME, "sha256": results_digest(results)},
        "files": [
            {"name": name, "sha256": sha256_hex(data), "bytes": len(data)}
            for name, data in sorted(files.items())
            if name != RESULTS_NAME  # it has its own entry above
        ],
        "evidence": [e.to_dict() for e in evidence_entries(results)],
    }


def write_report_dir(
    results: ScanResults, chosen: Iterable[Formatter], folder: Path, options: RenderOptions
) -> list[Path]:
    """Write results.json, each chosen format and manifest.json into `folder`."""
    files = {RESULTS_NAME: results_bytes(results)}
    for fmt in chosen:
        if fmt.name not in ("json", "terminal"):
            files[fmt.extension] = fmt.render(results, options)
    return write_manifest_files(results, folder, files)


def write_manifest_files(results: ScanResults, folder: Path, files: dict[str, bytes]) -> list[Path]:
    """Each file through a temporary file and a rename (auditor.safe_files), so a symlink
    already in the folder is replaced rather than written through; a symlinked folder is
    refused."""
    try:
        ensure_folder(folder, "report folder")
        written = []
        for name, data in sorted(files.items()):
            write_file(folder / name, data)
            written.append(folder / name)
        manifest = build_manifest(results, files)
        path = folder / MANIFEST_NAME
        write_file(path, (json.dumps(manifest, indent=2) + "\n").encode())
    except UnsafePathError as exc:
        raise ManifestError(str(exc)) from None
    except OSError as exc:
        raise ManifestError(f"{folder}: cannot write report folder: {exc.strerror}") from None
    return [*written, path]


@dataclass(frozen=True)
class Verification:
    checked_files: int
    checked_evidence: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ManifestError(f"{path}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None


def verify_report_dir(folder: Path) -> Verification:
    """Re-hash every file the manifest lists and every evidence block of results.json.
    Raises ManifestError when the folder has no readable manifest or results."""
    if not folder.is_dir():
        raise ManifestError(f"{folder}: not a folder")
    manifest_path = folder / MANIFEST_NAME
    manifest = _read_json(manifest_path)
    if not isinstance(manifest, dict) or manifest.get("schema") != MANIFEST_SCHEMA:
        raise ManifestError(f"{manifest_path}: not an Auditor evidence manifest")
    problems: list[str] = []
    files = manifest.get("files") or []
    for entry in files:
        name = str(entry.get("name", ""))
        path = folder / name
        if Path(name).name != name:  # a manifest must not point outside its folder
            problems.append(f"{manifest_path}: file entry {name!r} is not a plain file name")
        elif not path.is_file():
            problems.append(f"{path}: listed in the manifest but missing")
        elif sha256_hex(path.read_bytes()) != entry.get("sha256"):
            problems.append(f"{path}: SHA-256 differs from the manifest (file changed)")
    results_path = folder / str(manifest.get("results", {}).get("file", RESULTS_NAME))
    if not results_path.is_file():
        raise ManifestError(f"{results_path}: results file missing")
    raw = results_path.read_bytes()
    if sha256_hex(raw) != manifest.get("results", {}).get("sha256"):
        problems.append(f"{results_path}: SHA-256 differs from the manifest (results changed)")
    try:
        results = results_from_dict(json.loads(raw))
    except (ValueError, ResultsFileError) as exc:
        raise ManifestError(f"{results_path}: {exc}") from None
    expected = manifest.get("evidence") or []
    actual = [e.to_dict() for e in evidence_entries(results)]
    if len(expected) != len(actual):
        problems.append(
            f"{manifest_path}: lists {len(expected)} evidence blocks, "
            f"{results_path.name} has {len(actual)}"
        )
    for want, have in zip(expected, actual, strict=False):
        if want != have:
            where = f"{have['target']}/{have['check_id']}"
            if have["resource"]:
                where += f" ({have['resource']})"
            problems.append(
                f"{results_path}: evidence block {have['index']} ({where}) "
                "differs from the manifest"
            )
    return Verification(len(files) + 1, len(actual), tuple(problems))
