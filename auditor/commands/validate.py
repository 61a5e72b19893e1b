"""`auditor validate -c FILE`: check a config without scanning anything (for CI and editors).

Besides the file itself it checks what a scan would need from this machine: every
environment variable and file the config refers to (password sources, certificates,
hba_file, host evidence), and the waivers file when one is given. `--offline` skips the
machine checks, for a machine without the secrets (an editor, a CI lint job).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from auditor.gate import EXIT_USAGE


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _fail(problems: list[str]) -> None:
    from auditor.redact import redact_text

    for problem in problems:
        click.echo(f"auditor: error: {' '.join(redact_text(problem).split())}", err=True)
    sys.exit(EXIT_USAGE)


@click.command("validate")
@click.option("-c", "--config", "config_path", required=True, type=click.Path(path_type=Path))
@click.option(
    "--waivers",
    "waivers_path",
    type=click.Path(path_type=Path),
    help="Also validate this waivers file.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Do not check that referenced environment variables and files exist here "
    "(for a machine without the secrets).",
)
def validate_command(config_path: Path, waivers_path: Path | None, offline: bool) -> None:
    """Validate a config file; exit 2 with file:line:key when it is wrong."""
    # Loaded here, not at start-up (`auditor --help` stays fast).
    from auditor.config import ConfigError, load_config
    from auditor.config_refs import config_locator, missing_references
    from auditor.waivers import DEFAULT_MAX_DAYS, WaiverError, load_waivers

    problems: list[str] = []
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        problems.extend(str(exc).split("\n"))
        config = None
    if waivers_path is not None:
        try:
            limit = config.policy.waiver_max_days if config is not None else DEFAULT_MAX_DAYS
            load_waivers(waivers_path, limit)
        except WaiverError as exc:
            problems.extend(str(exc).split("\n"))
    if config is not None and not offline:
        where = config_locator(config_path)
        problems.extend(missing_references(config, config_path.resolve().parent, where))
    if problems:
        _fail(problems)
    assert config is not None
    kinds = ", ".join(sorted({t.kind for t in config.targets}))
    checked = " (references not checked: --offline)" if offline else ""
    click.echo(f"{config_path}: ok ({_plural(len(config.targets), 'target')}: {kinds}){checked}")


commands = [validate_command]
