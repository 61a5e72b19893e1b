"""`auditor keygen KEY`: make the Ed25519 key pair that signs scans (KEY, mode 0600) and
verifies them (KEY.pub). The key id printed is the public key's SHA-256 fingerprint; it is
what `auditor verify` names as the signer."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("keygen")
@click.argument("private_key", metavar="KEY", type=click.Path(path_type=Path))
def keygen_command(private_key: Path) -> None:
    """Write a new signing key to KEY (mode 0600) and its public key to KEY.pub."""
    from auditor.signing import SigningError, generate_key_pair  # cryptography: not at start-up

    try:
        public, keyid = generate_key_pair(private_key)
    except SigningError as exc:
        click.echo(f"auditor: error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"wrote {private_key} (private, keep it secret) and {public} (public)")
    click.echo(f"key id {keyid}")


commands = [keygen_command]
