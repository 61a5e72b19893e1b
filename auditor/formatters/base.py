"""The Formatter interface and discovery of the available formats by name."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import ClassVar

import auditor.formatters as formatters_package
from auditor.discovery import package_modules, subclasses_in
from auditor.model import ScanResults


@dataclass(frozen=True)
class RenderOptions:
    """What a user may ask of a rendering besides the results themselves."""

    framework: str | None = None  # restrict control views to one framework id
    color: bool = False  # terminal only
    title: str | None = None
    width: int | None = None  # terminal only: columns (None: the terminal's own width)
    quiet: bool = False  # terminal only: the summary line and what failed, nothing else
    failures_only: bool = False  # terminal only: hide results that passed or were skipped
    template_dir: Path | None = None  # html/pdf: an organisation's templates (checked folder)


class Formatter:
    name: ClassVar[str]
    extension: ClassVar[str]  # file name used when writing into a folder
    description: ClassVar[str] = ""
    binary: ClassVar[bool] = False  # not for a terminal (pdf)

    def render(self, results: ScanResults, options: RenderOptions) -> bytes:
        raise NotImplementedError

    def unavailable(self) -> str | None:
        """Why this format cannot be rendered on this machine (a missing library), or None.
        Asked before a scan, so a missing dependency never costs one."""
        return None


@cache
def formatters() -> dict[str, Formatter]:
    found: dict[str, Formatter] = {}
    for module in package_modules(formatters_package, skip=("base",)):
        for cls in subclasses_in(module, Formatter, "name"):
            found[cls.name] = cls()
    return dict(sorted(found.items()))
