"""`auditor discover -c CONFIG [--target NAME]`: propose sensitive_columns (auditor/discover.py).

The YAML snippet goes to standard output; each target or database that could not be read is
one line on standard error, and the exit code is then 3 (as for a scan that could not
evaluate everything)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from auditor.gate import EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE


def _redact(text: str) -> str:
    from auditor.redact import redact_text  # loads pydantic: not at start-up

    return redact_text(text)


def _fail(message: str) -> None:
    for line in message.split("\n"):
        click.echo(f"auditor: error: {' '.join(_redact(line).split())}", err=True)
    sys.exit(EXIT_USAGE)


@click.command("discover")
@click.option(
    "-c",
    "--config",
    "config_path",
    required=True,
    type=click.Path(path_type=Path),
    help="YAML config: its postgres targets are read like a scan reads them.",
)
@click.option(
    "--target",
    "names",
    multiple=True,
    metavar="NAME",
    help="Only this target (repeatable; default: every postgres target).",
)
def discover_command(config_path: Path, names: tuple[str, ...]) -> None:
    """Propose sensitive_columns: columns holding OpenPGP ciphertext or plaintext personal
    data, as a YAML snippet to review (no sampled value is ever shown)."""
    from auditor.config import ConfigError, PostgresTarget, load_config
    from auditor.config_refs import config_locator, missing_references
    from auditor.discover import discover, snippet

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        _fail(str(exc))
        return
    known = [t.name for t in config.targets if isinstance(t, PostgresTarget)]
    unknown = [n for n in names if n not in known]
    if unknown:
        _fail(f"--target {unknown[0]}: no postgres target of that name in {config_path}")
    if not known:
        _fail(f"{config_path}: no postgres target to discover")
    config_dir = config_path.resolve().parent
    problems = missing_references(config, config_dir, config_locator(config_path))
    if problems:
        _fail("\n".join(problems))
    reports = discover(config, config_dir, names or None)
    click.echo(snippet(reports), nl=False)
    failed = [r for r in reports if r.problem is not None]
    for report in failed:
        where = report.target + (f"/{report.database}" if report.database is not None else "")
        line = f"auditor: {where}: not discovered: {report.problem}"
        click.echo(" ".join(_redact(line).split()), err=True)
    sys.exit(EXIT_INCOMPLETE if failed else EXIT_OK)


commands = [discover_command]
