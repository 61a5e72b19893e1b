"""`auditor config-schema [-o FILE]`: the config file's JSON Schema, generated from the config
models of this installed version (the same text as auditor/schemas/config.schema.json), for
editors and CI linters."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("config-schema")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Write the schema to this file instead of standard output.",
)
def config_schema_command(output: Path | None) -> None:
    """Print the JSON Schema of the config file (editors complete and check configs with it)."""
    from auditor.config_docs import schema_text

    text = schema_text()
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        click.echo(f"auditor: error: {output}: cannot write: {exc.strerror}", err=True)
        sys.exit(2)
    click.echo(f"wrote {output}", err=True)


commands = [config_schema_command]
