"""`auditor grants`: print the SQL for a least-privilege scanning role (see auditor.grants)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from auditor.gate import EXIT_USAGE
from auditor.grant_profiles import MONITORING, PROFILES

if TYPE_CHECKING:  # the config and grants modules load when the command runs
    from auditor.config import ScanConfig


def _only_target(config: ScanConfig, name: str) -> ScanConfig:
    from auditor.grants import GrantsError

    chosen = tuple(t for t in config.targets if t.name == name)
    if not chosen:
        known = ", ".join(t.name for t in config.targets)
        raise GrantsError(f"no target named {name!r} in the config (targets: {known})")
    return config.model_copy(update={"targets": chosen})


@click.command("grants")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Scan config: one section per target database, SELECT on its declared sensitive tables.",
)
@click.option("--role", help="Scanning role name (default: the DSN user, else auditor).")
@click.option("--target", "target_name", help="With -c: only this target.")
@click.option(
    "--profile",
    type=click.Choice(PROFILES),
    default=MONITORING,
    show_default=True,
    help="monitoring: settings, pg_hba and the declared sensitive tables. discovery: also "
    "every row of every table for PII discovery (pg_read_all_data, BYPASSRLS).",
)
def grants_command(
    config_path: Path | None, role: str | None, target_name: str | None, profile: str
) -> None:
    """Print the SQL that creates a least-privilege scanning role."""
    from auditor.config import ConfigError, load_config
    from auditor.grants import GrantsError, grants_sql

    try:
        if target_name and config_path is None:
            raise GrantsError("--target goes with -c/--config")
        config = load_config(config_path) if config_path is not None else None
        if config is not None and target_name:
            config = _only_target(config, target_name)
        click.echo(grants_sql(config, role, profile), nl=False)
    except (ConfigError, GrantsError) as exc:
        for line in str(exc).split("\n"):  # a config may have several problems
            click.echo(f"auditor: error: {line}", err=True)
        sys.exit(EXIT_USAGE)


commands = [grants_command]
