"""`auditor diff OLD.json NEW.json`: what changed between two scans."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from auditor.formatters.json_results import ResultsFileError
from auditor.history import diff_results, load_results


@click.command("diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def diff_command(old: Path, new: Path, as_json: bool) -> None:
    """Compare two results files; exit 1 when NEW has failures that OLD did not."""
    try:
        changes = diff_results(load_results(old), load_results(new))
    except ResultsFileError as exc:
        click.echo(f"auditor: error: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(changes.as_dict(), indent=2))
    else:
        click.echo("\n".join(changes.lines()))
    sys.exit(1 if changes.new_failures else 0)


commands = [diff_command]
