"""The history side of `auditor report`: `--run RUN_ID` renders one stored run (all shards
merged), `--period FROM..TO` the period evidence (auditor/period.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from auditor.gate import EXIT_INCOMPLETE, EXIT_USAGE
from auditor.model import ScanResults

PERIOD_FORMATS = {"html": "period.html", "pdf": "period.pdf", "json": "period.json"}


def _fail(message: str) -> NoReturn:
    from auditor.redact import redact_text  # loads pydantic: not at start-up

    click.echo(f"auditor: error: {' '.join(redact_text(message).split())}", err=True)
    sys.exit(EXIT_USAGE)


def load_run(history: str | None, run: str) -> tuple[ScanResults, str | None]:
    """The merged run and, when shards are missing, the warning to print (exit 3 later)."""
    from auditor.commands.history import with_store

    def read(store: Any) -> tuple[ScanResults, str | None]:
        run_id = store.find(run)
        info = next(r for r in store.runs() if r.id == run_id)
        warning = None
        if not info.complete:
            warning = (
                f"run {run_id}: {info.shards_recorded} of {info.shard_count} shards recorded; "
                "the report covers only their targets"
            )
        return store.load(run_id), warning

    return with_store(history, read)


def period_report(
    history: str | None,
    period_value: str,
    cadence: str,
    formats: tuple[str, ...],
    output: Path | None,
    framework: str | None,
    title: str | None,
) -> None:
    from auditor.commands.history import with_store
    from auditor.frameworks import FrameworkError, get_framework
    from auditor.period import PeriodError, parse_period, period_evidence
    from auditor.period_render import render_html, render_json, render_pdf
    from auditor.safe_files import UnsafePathError, ensure_folder, write_file

    unknown = [f for f in formats if f not in PERIOD_FORMATS]
    if unknown:
        _fail(f"--period: format {unknown[0]!r} is not available (html, pdf, json)")
    try:
        period = parse_period(period_value)
        chosen = [get_framework(framework)] if framework else None
    except (PeriodError, FrameworkError) as exc:
        _fail(str(exc))
    evidence = with_store(history, lambda s: period_evidence(s, period, cadence, chosen))
    renderers = {
        "json": lambda: render_json(evidence),
        "html": lambda: render_html(evidence, title).encode(),
        "pdf": lambda: render_pdf(evidence, title),
    }
    formats = tuple(dict.fromkeys(formats))
    if output is None and len(formats) == 1 and formats[0] == "json":
        click.echo(renderers["json"]().decode(), nl=False)
        return
    try:
        if len(formats) == 1 and output is not None and output.suffix:
            paths = {formats[0]: output}
        else:
            folder = output or Path(f"auditor-period-{period.label.replace('..', '_')}")
            ensure_folder(folder, "output folder")
            paths = {f: folder / PERIOD_FORMATS[f] for f in formats}
        for fmt, path in paths.items():
            write_file(path, renderers[fmt]())
            click.echo(f"wrote {path}", err=True)
    except (UnsafePathError, OSError) as exc:
        _fail(f"cannot write the period report: {exc}")
    click.echo(
        f"period {period.label}: {len(evidence.runs)} run(s), {len(evidence.gaps)} cadence "
        f"gap(s), {sum(c.longest_failing is not None for c in evidence.controls)} control(s) "
        "failed at some point",
        err=True,
    )
    if not evidence.runs:
        sys.exit(EXIT_INCOMPLETE)  # no evidence at all is not a clean bill


def exit_incomplete(warning: str) -> NoReturn:
    click.echo(f"auditor: warning: {warning}", err=True)
    sys.exit(EXIT_INCOMPLETE)
