"""Splitting one scan's report by target or by a target label (`--split-by target` or
`--split-by label:KEY`): one report folder per group, and an index page linking them.

Each group's folder is an ordinary evidence package (results.json of the group's targets and
findings, the chosen formats, manifest.json; its file list signed with --sign-key), so
`auditor verify` checks it like any other. The scan's own signature covers the whole run, not a
part, so the groups' results do not carry it; the index names the run and its results digest,
and the full results stay where the scan wrote them.

Labels are read defensively: from the target entries of a results file (`labels`), from the
targets of a config, or from the inventory; a target without the key groups under
"(unlabelled)".
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from auditor.formatters.base import Formatter, RenderOptions
from auditor.manifest import ManifestError, results_digest, write_report_dir
from auditor.model import ScanResults, Status
from auditor.redact import redact_results
from auditor.safe_files import UnsafePathError, ensure_folder, file_stems, write_file
from auditor.signing import Signer

UNLABELLED = "(unlabelled)"
INDEX_NAME = "index.html"
GROUPS_FOLDER = "groups"  # OUT/groups/<group>/: one evidence folder per group
RUN_FOLDER = "run"  # OUT/run/: the whole run, as `scan` writes it without --split-by


class SplitError(Exception):
    """A bad --split-by value or output; one line."""


@dataclass(frozen=True)
class SplitSpec:
    label: str | None  # None: one group per target

    @property
    def text(self) -> str:
        return "target" if self.label is None else f"label:{self.label}"


def parse_split(value: str) -> SplitSpec:
    if value == "target":
        return SplitSpec(None)
    if value.startswith("label:") and value[len("label:") :].strip():
        return SplitSpec(value[len("label:") :].strip())
    raise SplitError(f"--split-by {value!r}: expected 'target' or 'label:KEY' (e.g. label:env)")


def _clean(labels: Any) -> dict[str, str]:
    if not isinstance(labels, Mapping):
        return {}
    return {str(k): str(v) for k, v in labels.items() if isinstance(k, str) and v is not None}


def labels_from_results_file(path: Path) -> dict[str, dict[str, str]]:
    """`labels` of each target entry of a saved results file (absent ones are skipped)."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}  # the results loader reports an unreadable file itself
    targets = data.get("targets") if isinstance(data, dict) else None
    found: dict[str, dict[str, str]] = {}
    for entry in targets if isinstance(targets, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            found[entry["name"]] = _clean(entry.get("labels"))
    return found


def labels_from_config(targets: Iterable[Any]) -> dict[str, dict[str, str]]:
    """`labels:` of configured targets, for configs that declare them."""
    return {str(t.name): _clean(getattr(t, "labels", None)) for t in targets}


def target_labels(
    results: ScanResults, *sources: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, str]]:
    """Each target's labels: its own (when the results model carries them, or the inventory
    does), then the given sources in order."""
    found: dict[str, dict[str, str]] = {}
    for t in results.targets:
        mine = _clean(getattr(t, "labels", None)) or _clean((t.inventory or {}).get("labels"))
        for source in sources:
            if not mine:
                mine = _clean(source.get(t.name))
        found[t.name] = mine
    return found


def split_plan(value: str | None, out: Path | None) -> SplitSpec | None:
    """The parsed --split-by of a scan, checked before anything is scanned."""
    if value is None:
        return None
    spec = parse_split(value)
    if out is None or str(out) == "-" or out.suffix:
        raise SplitError("--split-by writes one folder per group: give -o/--output FOLDER")
    return spec


def write_split_of_scan(
    results: ScanResults,
    spec: SplitSpec,
    config_targets: Iterable[Any],
    chosen: list[Formatter],
    out: Path,
    options: RenderOptions,
    signer: Signer | None,
) -> list[Path]:
    """A scan's split reports beside its whole-run folder (OUT/run), labels from the config."""
    labels = target_labels(results, labels_from_config(config_targets))
    return write_split(results, spec, labels, chosen, out, options, signer)


def split_groups(
    results: ScanResults, spec: SplitSpec, labels: Mapping[str, Mapping[str, str]]
) -> list[tuple[str, ScanResults]]:
    """(group name, the group's results) in the scan's target order; "(unlabelled)" last."""
    members: dict[str, list[str]] = {}
    for t in results.targets:
        label = None if spec.label is None else labels.get(t.name, {}).get(spec.label)
        key = t.name if spec.label is None else label or UNLABELLED
        members.setdefault(key, []).append(t.name)
    order = [k for k in members if k != UNLABELLED] + [k for k in members if k == UNLABELLED]
    groups = []
    for key in order:
        names = set(members[key])
        groups.append(
            (
                key,
                replace(
                    results,
                    targets=tuple(t for t in results.targets if t.name in names),
                    findings=tuple(f for f in results.findings if f.target in names),
                    run_metadata={
                        **(results.run_metadata or {}),
                        "split": {"by": spec.text, "group": key, "of_run": results.run_id},
                    },
                    # The scan signed the whole run; a part of it would not verify.
                    attestation=None,
                ),
            )
        )
    return groups


def write_split(
    results: ScanResults,
    spec: SplitSpec,
    labels: Mapping[str, Mapping[str, str]],
    chosen: list[Formatter],
    out: Path | None,
    options: RenderOptions,
    signer: Signer | None = None,
) -> list[Path]:
    """One report folder per group under `out`, plus `out/index.html`."""
    if out is None or str(out) == "-":
        raise SplitError("--split-by writes one folder per group: give -o/--output FOLDER")
    if not [f for f in chosen if f.name != "terminal"]:
        raise SplitError("--split-by needs a file format (e.g. --format html --format pdf)")
    try:
        ensure_folder(out, "output folder")
    except UnsafePathError as exc:
        raise SplitError(str(exc)) from None
    groups = split_groups(results, spec, labels)
    stems = file_stems(name for name, _ in groups)
    machine = [f for f in chosen if f.name != "terminal"]
    written: list[Path] = []
    rows = []
    for name, part in groups:
        folder = out / GROUPS_FOLDER / stems[name]
        try:
            # Always a folder, whatever the group's name looks like (a label value "eu.prod"
            # is not a file name with a suffix): its manifest makes it verifiable.
            written += write_report_dir(redact_results(part), machine, folder, options, signer)
        except ManifestError as exc:
            raise SplitError(str(exc)) from None
        rows.append((name, stems[name], part, [f.extension for f in machine]))
    index = _index_html(results, spec, rows, options.title)
    try:
        write_file(out / INDEX_NAME, index.encode("utf-8"))
    except UnsafePathError as exc:
        raise SplitError(str(exc)) from None
    written.append(out / INDEX_NAME)
    return written


def _index_html(
    results: ScanResults,
    spec: SplitSpec,
    rows: list[tuple[str, str, ScanResults, list[str]]],
    title: str | None,
) -> str:
    e = html.escape
    heading = f"{title or 'Compliance report'} — split by {spec.text}"
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(heading)}</title>",
        "<style>body{font-family:sans-serif;margin:24px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
        ".num{text-align:right}</style></head><body>",
        f"<h1>{e(heading)}</h1>",
        f"<p>Run <code>{e(results.run_id)}</code>, {e(results.started_at)} to "
        f"{e(results.finished_at)}: {len(results.targets)} targets in {len(rows)} groups. "
        f"Results of the whole run SHA-256 <code>{results_digest(results)}</code>. Each group "
        "is its own evidence folder (check it with <code>auditor verify FOLDER</code>); the "
        "scan's signature covers the whole run, so verify it on the full results.</p>",
        "<table><thead><tr><th>Group</th><th class=num>Targets</th><th class=num>Fail</th>"
        "<th class=num>Error</th><th class=num>Pass</th><th>Reports</th></tr></thead><tbody>",
    ]
    for name, stem, part, extensions in rows:
        counts = {s: sum(f.status is s for f in part.findings) for s in Status}
        links = " ".join(
            f'<a href="{GROUPS_FOLDER}/{e(stem)}/{e(ext)}">{e(ext)}</a>' for ext in extensions
        )
        lines.append(
            f"<tr><td>{e(name)}</td><td class=num>{len(part.targets)}</td>"
            f"<td class=num>{counts[Status.FAIL]}</td><td class=num>{counts[Status.ERROR]}</td>"
            f"<td class=num>{counts[Status.PASS]}</td><td>{links}</td></tr>"
        )
    lines.append("</tbody></table></body></html>")
    return "\n".join(lines) + "\n"
