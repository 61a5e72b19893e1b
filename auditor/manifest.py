"""The evidence manifest: SHA-256 of the results document, of each finding's evidence block and
of every report file written beside them, so an auditor can later prove that a report folder
is what the scan produced (`auditor verify REPORT_DIR`).

Digests are over canonical bytes: the results file exactly as the `json` formatter writes it,
and each evidence block as sorted, compact JSON. Nothing here reads a clock.

Digests alone catch accidents; anyone can recompute them. With a key (auditor/signing.py) the
scan signs what it observed — the results' signed view, see `signed_results_digest` — into
results.json, where re-renders carry it unchanged, and whoever writes a folder with a key signs
the manifest's file list too. `verify_report_dir` checks both against trusted public keys.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
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
from auditor.signing import (
    EnvelopeError,
    OpenedEnvelope,
    Signer,
    TrustedKey,
    open_envelope,
    short_key_id,
    sign_statement,
    statement,
)

MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA = "auditor/manifest/v1"
RESULTS_NAME = JsonFormatter.extension
SCAN_PREDICATE = "https://auditor.invalid/attestation/scan/v1"
FOLDER_PREDICATE = "https://auditor.invalid/attestation/report-folder/v1"
# Keys of the results document a signature does not cover: derived on every render from the
# findings and the framework files (controls, summary), and the signature itself.
UNSIGNED_KEYS = ("controls", "summary", "attestation")


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


# The last results encoded: a report folder needs the same bytes for results.json, the HTML
# and the PDF (each shows their digest), and a 10,000-finding document takes seconds to encode.
_last_encoded: tuple[ScanResults, bytes] | None = None


def results_bytes(results: ScanResults) -> bytes:
    global _last_encoded
    if _last_encoded is not None and _last_encoded[0] is results:
        return _last_encoded[1]
    data = JsonFormatter().render(results, RenderOptions())
    _last_encoded = (results, data)
    return data


def results_digest(results: ScanResults) -> str:
    return sha256_hex(results_bytes(results))


def signed_results_digest(results: ScanResults) -> str:
    """SHA-256 of what the scan observed: the results document without its derived and
    signature keys, as sorted compact JSON. A re-render recomputes the same value; any edit to
    a status, message, evidence, target or run field changes it."""
    from auditor.formatters.json_results import results_to_dict

    view = {k: v for k, v in results_to_dict(results).items() if k not in UNSIGNED_KEYS}
    return sha256_hex(canonical_json(view))


def scan_statement(results: ScanResults) -> dict[str, Any]:
    """The in-toto Statement a scan signs: the results' signed digest, the run, and the
    digest of every evidence block (so one block can be shown and proven on its own)."""
    return statement(
        {RESULTS_NAME: signed_results_digest(results)},
        SCAN_PREDICATE,
        {
            "digest_of": "results.json without "
            + ", ".join(UNSIGNED_KEYS)
            + " as sorted compact JSON",
            "run_id": results.run_id,
            "started_at": results.started_at,
            "finished_at": results.finished_at,
            "tool": {"name": "auditor", "version": results.tool_version},
            "config_digest": results.config_digest,
            "evidence": [e.to_dict() for e in evidence_entries(results)],
        },
    )


def attest_results(results: ScanResults, signer: Signer | None) -> ScanResults:
    """The results with the scan's signature attached (unchanged without a signer)."""
    if signer is None:
        return results
    return replace(results, attestation=sign_statement(signer, scan_statement(results)))


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


def sign_manifest(manifest: dict[str, Any], signer: Signer | None) -> dict[str, Any]:
    """Attach a signature over the folder's file list (every file with its SHA-256)."""
    if signer is None:
        return manifest
    subjects = {manifest["results"]["file"]: manifest["results"]["sha256"]}
    subjects.update({f["name"]: f["sha256"] for f in manifest["files"]})
    body = statement(subjects, FOLDER_PREDICATE, {"run_id": manifest["run_id"]})
    return {**manifest, "signature": sign_statement(signer, body)}


def write_report_dir(
    results: ScanResults,
    chosen: Iterable[Formatter],
    folder: Path,
    options: RenderOptions,
    signer: Signer | None = None,
    attachments: dict[str, bytes] | None = None,
) -> list[Path]:
    """Write results.json, each chosen format and manifest.json into `folder`; with a signer
    the manifest's file list is signed (the results keep whatever scan signature they carry).
    `attachments` are inputs that belong with the evidence (the demo's config and CA): listed
    in the manifest like the rest, so verify neither misses nor flags them."""
    files = {**(attachments or {}), RESULTS_NAME: results_bytes(results)}
    for fmt in chosen:
        if fmt.name not in ("json", "terminal"):
            files[fmt.extension] = fmt.render(results, options)
    return write_manifest_files(results, folder, files, signer)


def write_manifest_files(
    results: ScanResults, folder: Path, files: dict[str, bytes], signer: Signer | None = None
) -> list[Path]:
    """Each file through a temporary file and a rename (auditor.safe_files), so a symlink
    already in the folder is replaced rather than written through; a symlinked folder is
    refused."""
    try:
        ensure_folder(folder, "report folder")
        written = []
        for name, data in sorted(files.items()):
            write_file(folder / name, data)
            written.append(folder / name)
        manifest = sign_manifest(build_manifest(results, files), signer)
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
    # What a signature proved, for the verdict line: key ids that signed the scan's results
    # and the folder's file list (None: not signed, or no key given to check it).
    scan_signed_by: str | None = None
    files_signed_by: str | None = None
    keys_given: bool = False
    notes: tuple[str, ...] = ()
    run: str = ""  # the run the results are of: id and times (signed when scan_signed_by)

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
    except RecursionError:
        raise ManifestError(f"{path}: JSON nested too deeply") from None


_HEX = frozenset("0123456789abcdef")


def _is_sha256(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX


def _plain_name(value: Any) -> bool:
    """A file directly in the folder: no separators, no parent/current dir, no NUL."""
    return (
        isinstance(value, str)
        and value not in ("", ".", "..")
        and "/" not in value
        and "\\" not in value
        and "\0" not in value
    )


def _check_shape(manifest: Any, where: Path) -> None:
    """Raise ManifestError (one line) unless the manifest has exactly the shape we write."""

    def bad(what: str) -> ManifestError:
        return ManifestError(f"{where}: {what}")

    if not isinstance(manifest, dict) or manifest.get("schema") != MANIFEST_SCHEMA:
        raise bad("not an Auditor evidence manifest")
    if manifest.get("algorithm") != "sha256":
        raise bad(f"unsupported algorithm {manifest.get('algorithm')!r}")
    if not isinstance(manifest.get("run_id"), str):
        raise bad("run_id is not a string")
    results = manifest.get("results")
    if not isinstance(results, dict):
        raise bad("results is not an object")
    if not _plain_name(results.get("file")):
        raise bad(f"results.file {results.get('file')!r} is not a file name inside the folder")
    if not _is_sha256(results.get("sha256")):
        raise bad("results.sha256 is not a SHA-256 hex digest")
    files = manifest.get("files")
    if not isinstance(files, list):
        raise bad("files is not a list")
    seen = {results["file"], MANIFEST_NAME}
    for i, entry in enumerate(files):
        if not isinstance(entry, dict):
            raise bad(f"files[{i}] is not an object")
        name = entry.get("name")
        if not _plain_name(name):
            raise bad(f"files[{i}].name {name!r} is not a file name inside the folder")
        if name in seen:
            raise bad(f"files[{i}].name {name!r} is listed twice")
        seen.add(name)
        if not _is_sha256(entry.get("sha256")):
            raise bad(f"files[{i}].sha256 is not a SHA-256 hex digest")
        if type(entry.get("bytes")) is not int:
            raise bad(f"files[{i}].bytes is not an integer")
    evidence = manifest.get("evidence")
    if not isinstance(evidence, list):
        raise bad("evidence is not a list")
    for i, entry in enumerate(evidence):
        if not isinstance(entry, dict) or not _is_sha256(entry.get("sha256")):
            raise bad(f"evidence[{i}] is not an evidence digest entry")
    if "signature" in manifest and not isinstance(manifest["signature"], dict):
        raise bad("signature is not an object")


def verify_report_dir(folder: Path, trusted: Sequence[TrustedKey] = ()) -> Verification:
    """Re-hash every file the manifest lists and every evidence block of results.json, flag
    files the manifest does not list, and — given trusted public keys — check the scan's
    signature in results.json and the folder signature in the manifest.
    Raises ManifestError when the folder has no readable, well-formed manifest or results."""
    if not folder.is_dir():
        raise ManifestError(f"{folder}: not a folder")
    manifest_path = folder / MANIFEST_NAME
    if manifest_path.is_symlink():
        raise ManifestError(f"{manifest_path}: is a symbolic link, not a manifest")
    manifest = _read_json(manifest_path)
    _check_shape(manifest, manifest_path)
    problems: list[str] = []
    notes: list[str] = []
    files: list[dict[str, Any]] = manifest["files"]
    results_name: str = manifest["results"]["file"]
    listed = {MANIFEST_NAME, results_name, *(f["name"] for f in files)}
    for extra in sorted(p.name for p in folder.iterdir() if p.name not in listed):
        problems.append(f"{folder / extra}: in the folder but not listed in the manifest")
    for entry in files:
        path = folder / entry["name"]
        if path.is_symlink():
            problems.append(f"{path}: is a symbolic link (may point outside the folder)")
        elif not path.is_file():
            problems.append(f"{path}: listed in the manifest but missing")
        elif sha256_hex(path.read_bytes()) != entry["sha256"]:
            problems.append(f"{path}: SHA-256 differs from the manifest (file changed)")
    results_path = folder / results_name
    if results_path.is_symlink() or not results_path.is_file():
        raise ManifestError(f"{results_path}: results file missing")
    raw = results_path.read_bytes()
    if sha256_hex(raw) != manifest["results"]["sha256"]:
        problems.append(f"{results_path}: SHA-256 differs from the manifest (results changed)")
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ResultsFileError("not an Auditor results file (top level is not an object)")
        results = results_from_dict(data)
    except (ValueError, ResultsFileError) as exc:
        raise ManifestError(f"{results_path}: {exc}") from None
    except RecursionError:
        raise ManifestError(f"{results_path}: JSON nested too deeply") from None
    if results.run_id != manifest["run_id"]:
        problems.append(f"{manifest_path}: run_id differs from {results_path.name}")
    expected: list[dict[str, Any]] = manifest["evidence"]
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
    scan_by = _check_scan_signature(results, results_path, trusted, problems, notes)
    files_by = _check_folder_signature(manifest, manifest_path, trusted, problems, notes)
    return Verification(
        len(files) + 1,
        len(actual),
        tuple(problems),
        scan_signed_by=scan_by,
        files_signed_by=files_by,
        keys_given=bool(trusted),
        notes=tuple(notes),
        run=f"run {results.run_id}, {results.started_at} to {results.finished_at}",
    )


def _open(
    envelope: Any, where: Path, what: str, trusted: Sequence[TrustedKey], problems: list[str]
) -> OpenedEnvelope | None:
    try:
        return open_envelope(envelope, trusted)
    except EnvelopeError as exc:
        problems.append(f"{where}: {what}: {exc}")
        return None


def _check_scan_signature(
    results: ScanResults,
    where: Path,
    trusted: Sequence[TrustedKey],
    problems: list[str],
    notes: list[str],
) -> str | None:
    if results.attestation is None:
        if trusted:
            problems.append(f"{where}: carries no scan signature (scanned without --sign-key?)")
        return None
    opened = _open(results.attestation, where, "scan signature", trusted, problems)
    if opened is None:
        return None
    try:
        signed = opened.subjects().get(RESULTS_NAME)
    except EnvelopeError as exc:
        problems.append(f"{where}: scan signature: {exc}")
        return None
    predicate = opened.statement.get("predicate")
    if opened.statement.get("predicateType") != SCAN_PREDICATE or not isinstance(predicate, dict):
        problems.append(f"{where}: scan signature is not an Auditor scan statement")
        return None
    if signed != signed_results_digest(results):
        problems.append(
            f"{where}: results differ from what the scan signed "
            "(a status, message, evidence, target or run field was changed)"
        )
    if predicate.get("run_id") != results.run_id:
        problems.append(f"{where}: run id differs from the one the scan signed")
    if opened.verified_by is None:
        return None
    return opened.verified_by.keyid


def _check_folder_signature(
    manifest: dict[str, Any],
    where: Path,
    trusted: Sequence[TrustedKey],
    problems: list[str],
    notes: list[str],
) -> str | None:
    if "signature" not in manifest:
        if trusted:
            notes.append(
                "the manifest is not signed (folder written without a key, e.g. a later "
                "`auditor report`): report files other than results.json are derived views "
                "covered by digests only; re-render them from results.json to rely on them"
            )
        return None
    opened = _open(manifest["signature"], where, "folder signature", trusted, problems)
    if opened is None:
        return None
    try:
        signed = opened.subjects()
    except EnvelopeError as exc:
        problems.append(f"{where}: folder signature: {exc}")
        return None
    listed = {manifest["results"]["file"]: manifest["results"]["sha256"]}
    listed.update({f["name"]: f["sha256"] for f in manifest["files"]})
    for name in sorted(set(signed) | set(listed)):
        if name not in listed:
            problems.append(f"{where}: {name} was signed but is no longer listed")
        elif name not in signed:
            problems.append(f"{where}: {name} is listed but was not signed")
        elif signed[name] != listed[name]:
            problems.append(f"{where}: {name} digest differs from the signed one")
    if opened.verified_by is None:
        return None
    return opened.verified_by.keyid


def describe_signer(keyid: str | None, trusted: Sequence[TrustedKey]) -> str:
    for key in trusted:
        if key.keyid == keyid:
            return f"{short_key_id(key.keyid)} ({key.source})"
    return "nobody" if keyid is None else short_key_id(keyid)
