"""Writing rendered formats to stdout, a file or a folder (shared by `scan`, `demo`, `report`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from auditor.formatters.base import Formatter, RenderOptions, formatters
from auditor.manifest import ManifestError, write_report_dir
from auditor.model import ScanResults
from auditor.output_error import OutputError as OutputError  # re-exported
from auditor.redact import redact_results
from auditor.safe_files import (
    UnsafePathError,
    check_file_destination,
    ensure_folder,
    write_file,
)
from auditor.signing import Signer


def wants_color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def pick_formatters(names: tuple[str, ...]) -> list[Formatter]:
    available = formatters()
    unknown = [n for n in names if n not in available]
    if unknown:
        raise OutputError(f"unknown format {unknown[0]!r} (available: {', '.join(available)})")
    return [available[n] for n in dict.fromkeys(names)]


STDOUT = Path("-")  # `-o -`: standard output, as for most command-line tools


def _stdout_if_dash(out: Path | None) -> Path | None:
    return None if out == STDOUT else out


def _folder_mode(chosen: list[Formatter], out: Path) -> bool:
    machine = [f for f in chosen if f.name != "terminal"]
    return out.is_dir() or len(machine) > 1 or not out.suffix


def check_output_plan(chosen: list[Formatter], out: Path | None) -> None:
    """Refuse, before anything is scanned, output choices that cannot be written: several
    formats without a folder, a binary format on a terminal, and paths that are not usable
    (a file where a folder is needed, a symlinked folder, nothing writable). A folder is made
    here if needed, so a scan never runs only to lose its report. `-o -` is standard
    output (one text format), never a folder named `-`."""
    for fmt in chosen:
        missing = fmt.unavailable()
        if missing:
            raise OutputError(f"format {fmt.name!r} cannot be written here: {missing}")
    if out is None or out == STDOUT:
        if len(chosen) > 1 and any(f.name != "terminal" for f in chosen):
            raise OutputError("several formats need -o/--output naming a folder")
        for fmt in chosen:
            if fmt.binary:
                raise OutputError(f"format {fmt.name!r} is binary: give -o/--output FILE")
        return
    try:
        if _folder_mode(chosen, out):
            ensure_folder(out, "output folder")
        elif any(f.name != "terminal" for f in chosen):
            check_file_destination(out, "output file")
    except UnsafePathError as exc:
        raise OutputError(str(exc)) from None


def write_outputs(
    results: ScanResults,
    chosen: list[Formatter],
    out: Path | None,
    options: RenderOptions,
    signer: Signer | None = None,
    attachments: dict[str, bytes] | None = None,
) -> list[Path]:
    """Render each format. With `out` a folder (or several formats) each lands in its own
    file, with results.json and the evidence manifest beside them; with one format and a file
    path it lands there; otherwise on stdout. Results pass the redaction policy first, and
    files are written through a temporary file and a rename (never through a symlink)."""
    check_output_plan(chosen, out)
    out = _stdout_if_dash(out)
    results = redact_results(results)
    written: list[Path] = []
    machine = [f for f in chosen if f.name != "terminal"]
    terminal = [f for f in chosen if f.name == "terminal"]
    if out is None:
        for fmt in chosen:
            opts = (
                options
                if fmt.name == "terminal"
                else RenderOptions(
                    framework=options.framework,
                    title=options.title,
                    template_dir=options.template_dir,
                )
            )
            sys.stdout.buffer.write(fmt.render(results, opts))
            sys.stdout.flush()
        return written
    if _folder_mode(chosen, out):
        # A folder is an evidence package: results.json and the manifest go beside the
        # formats, so `auditor verify` can prove it later.
        try:
            written = write_report_dir(results, machine, out, options, signer, attachments)
        except ManifestError as exc:
            raise OutputError(str(exc)) from None
    else:
        for fmt in machine:
            try:
                write_file(out, fmt.render(results, options))
            except UnsafePathError as exc:
                raise OutputError(str(exc)) from None
            written.append(out)
    for fmt in terminal:
        sys.stdout.buffer.write(fmt.render(results, options))
        sys.stdout.flush()
    return written
