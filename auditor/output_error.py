"""The error every report-writing step raises; light, so start-up code can name it."""

from __future__ import annotations


class OutputError(Exception):
    """A report could not be written (path, template, format); shown as one line."""
