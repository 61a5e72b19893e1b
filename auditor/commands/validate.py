"""`auditor validate -c FILE`: check a config without scanning anything (for CI and editors)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from auditor.config import ConfigError, load_config


@click.command("validate")
@click.option("-c", "--config", "config_path", required=True, type=click.Path(path_type=Path))
def validate_command(config_path: Path) -> None:
    """Validate a config file; exit 2 with file:line:key when it is wrong."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        click.echo(f"auditor: error: {exc}", err=True)
        sys.exit(2)
    kinds = ", ".join(sorted({t.kind for t in config.targets}))
    click.echo(f"{config_path}: ok ({len(config.targets)} target(s): {kinds})")


commands = [validate_command]
