"""`auditor host-evidence`: record, on a database host, what the `host` checks need (mounts,
block-device chains, dm-crypt status, LUKS headers, crypttab and key-file permissions) into
one JSON file that can be audited elsewhere with a `host` target's `evidence:` key.
Only allow-listed inspection commands run; LUKS header dumps hold no key material."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from auditor.collectors.host import inspect_host
from auditor.collectors.host_shell import LocalShell, RecordingShell
from auditor.config import HostTarget
from auditor.gate import EXIT_USAGE


def _fail(message: str) -> NoReturn:
    click.echo(f"auditor: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


@click.command("host-evidence")
@click.option("--data-directory", required=True, help="PostgreSQL data directory.")
@click.option("--wal-directory", help="WAL directory (default: DATA/pg_wal).")
@click.option(
    "--temp-directory",
    "temp_directories",
    multiple=True,
    help="temp_tablespaces locations (repeatable).",
)
@click.option("--wal-archive", help="Where archive_command puts WAL.")
@click.option("--crypttab", default="/etc/crypttab", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder for host-evidence.json.",
)
def host_evidence_command(
    data_directory: str,
    wal_directory: str | None,
    temp_directories: tuple[str, ...],
    wal_archive: str | None,
    crypttab: str,
    output: Path,
) -> None:
    """Record host storage evidence for an offline `host` audit."""
    target = HostTarget(
        name="host",
        kind="host",
        data_directory=data_directory,
        wal_directory=wal_directory,
        temp_directories=temp_directories,
        wal_archive=wal_archive,
        crypttab=crypttab,
    )
    if not Path(data_directory).is_dir():  # evidence about nothing is a usage error
        _fail(f"--data-directory {data_directory}: no such folder on this host")
    shell = RecordingShell(LocalShell())
    inspect_host(shell, target)
    try:
        path = shell.save(output)
    except OSError as exc:
        _fail(f"{exc.filename or output}: cannot write host evidence: {exc.strerror}")
    click.echo(
        f"wrote {path} ({len(shell.commands)} command outputs, "
        f"{len(shell.files)} files, {len(shell.stats)} file modes)"
    )


commands = [host_evidence_command]
