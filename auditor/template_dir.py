"""`--template-dir DIR` (or $AUDITOR_TEMPLATE_DIR): an organisation's own report templates.

A file in DIR named like a built-in one (report.html.j2, report.css, print.css) replaces it;
anything DIR does not have comes from the built-in set, so a brand can be as small as one
stylesheet. The folder is checked before a scan starts (it exists, is readable, holds at
least one of those files, and its templates compile), so a typo costs a one-line usage error
rather than a scan whose report then cannot be written.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from auditor.output_error import OutputError

TEMPLATE_DIR_ENV = "AUDITOR_TEMPLATE_DIR"
REPORT_TEMPLATE = "report.html.j2"
STYLESHEETS = ("report.css", "print.css")
OVERRIDABLE = (REPORT_TEMPLATE, *STYLESHEETS)

F = TypeVar("F", bound=Callable[..., object])


class TemplateDirError(OutputError):
    """The template folder cannot be used, or one of its templates failed to render. An
    OutputError, so every command that writes reports already turns it into one line."""


def template_dir_option(func: F) -> F:
    return click.option(
        "--template-dir",
        "template_dir",
        envvar=TEMPLATE_DIR_ENV,
        show_envvar=True,
        type=click.Path(path_type=Path),
        metavar="DIR",
        help="HTML/PDF: use the templates and stylesheets in DIR (report.html.j2, report.css, "
        "print.css); files it lacks come from the built-in set.",
    )(func)


def check_template_dir(folder: Path) -> Path:
    """`folder` made absolute, or TemplateDirError saying what is wrong with it."""
    label = f"--template-dir {folder}"
    if not folder.exists():
        raise TemplateDirError(f"{label}: no such folder")
    if not folder.is_dir():
        raise TemplateDirError(f"{label}: not a folder")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise TemplateDirError(f"{label}: folder is not readable")
    present = [name for name in OVERRIDABLE if (folder / name).is_file()]
    if not present:
        raise TemplateDirError(f"{label}: holds none of {', '.join(OVERRIDABLE)}")
    for name in present:
        try:
            (folder / name).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateDirError(f"{folder / name}: cannot read: {_reason(exc)}") from None
    if REPORT_TEMPLATE in present:
        # Imported here: jinja2 and the report model are not needed by scans without HTML.
        from auditor.formatters.html import compile_error

        problem = compile_error(folder.resolve())
        if problem is not None:
            raise TemplateDirError(problem)
    return folder.resolve()


def _reason(exc: OSError | UnicodeDecodeError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return exc.strerror or str(exc)
