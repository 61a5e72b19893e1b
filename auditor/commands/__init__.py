"""Extra CLI commands. Each module here defines module-level `commands: list[click.Command]`;
`auditor.cli` adds them to the `auditor` group, so a command family lives beside its code."""

from __future__ import annotations

import click

import auditor.commands as package
from auditor.discovery import package_modules


def extra_commands() -> list[click.Command]:
    found: list[click.Command] = []
    for module in package_modules(package):
        found.extend(getattr(module, "commands", []))
    return found
