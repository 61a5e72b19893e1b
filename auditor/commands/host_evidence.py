"""`auditor host-evidence`: record, on a database host, what the `host` checks need (mounts,
block-device chains, dm-crypt status, LUKS headers, crypttab and key-file permissions) into
one JSON file that can be audited elsewhere with a `host` target's `evidence:` key.
Only allow-listed inspection commands run; LUKS header dumps hold no key material.

The file records which host, when and with which Auditor version; with --sign-key (or
$AUDITOR_SIGN_KEY) it is signed like a scan, and a `host` target with `public_key:` refuses it
unless that key signed it as it is."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import NoReturn

import click

from auditor.gate import EXIT_USAGE
from auditor.signing_env import SIGN_KEY_ENV


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
@click.option(
    "--sign-key",
    type=click.Path(path_type=Path),
    envvar=SIGN_KEY_ENV,
    metavar="KEY",
    help=f"Ed25519 private key (`auditor keygen`): sign the evidence. Also ${SIGN_KEY_ENV}.",
)
def host_evidence_command(
    data_directory: str,
    wal_directory: str | None,
    temp_directories: tuple[str, ...],
    wal_archive: str | None,
    crypttab: str,
    output: Path,
    sign_key: Path | None,
) -> None:
    """Record host storage evidence for an offline `host` audit."""
    # Loaded here, not at start-up (`auditor --help` stays fast).
    from auditor import __version__
    from auditor.collectors.host import HOST_EVIDENCE_NAME, HOST_EVIDENCE_PREDICATE, inspect_host
    from auditor.collectors.host_shell import LocalShell, RecordingShell
    from auditor.config import HostTarget
    from auditor.inventory import this_scanner
    from auditor.signing import SigningError, load_signer, sign_document

    try:
        signer = load_signer(sign_key) if sign_key is not None else None
    except SigningError as exc:
        click.echo(f"auditor: error: {exc}", err=True)
        sys.exit(2)
    if signer is not None and signer.warning:
        click.echo(f"auditor: warning: {signer.warning}", err=True)
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
    recorded = {
        **this_scanner(),
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "tool": {"name": "auditor", "version": __version__},
    }
    document = {**shell.document(), "recorded": recorded}
    if signer is not None:
        document = sign_document(
            document, HOST_EVIDENCE_NAME, signer, HOST_EVIDENCE_PREDICATE, recorded
        )
    try:
        path = shell.save(output, document)
    except OSError as exc:
        _fail(f"{exc.filename or output}: cannot write host evidence: {exc.strerror}")
    if signer is not None:
        click.echo(f"signed with key {signer.keyid}")
    click.echo(
        f"wrote {path} ({len(shell.commands)} command outputs, "
        f"{len(shell.files)} files, {len(shell.stats)} file modes)"
    )


commands = [host_evidence_command]
