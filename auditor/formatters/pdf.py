"""The PDF report: the HTML report laid out by WeasyPrint with its print stylesheet (running
header and footer, page numbers, contents with page references, rows kept whole).

WeasyPrint is imported lazily: it is slow to import and only this format needs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from auditor.formatters.base import Formatter, RenderOptions
from auditor.formatters.html import render_html
from auditor.model import ScanResults


@contextmanager
def _source_date(iso_moment: str) -> Iterator[None]:
    """Pin SOURCE_DATE_EPOCH while fonts are subset.

    Without HarfBuzz-Subset, WeasyPrint subsets fonts with fontTools, which stamps each
    subset font's `head.modified` with the wall clock unless SOURCE_DATE_EPOCH is set: two
    renders of the same results then differ by a byte whenever a second ticks between them.
    """
    previous = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromisoformat(iso_moment.replace("Z", "+00:00"))
    os.environ["SOURCE_DATE_EPOCH"] = str(int(moment.timestamp()))
    try:
        yield
    finally:
        if previous is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = previous


def render_pdf(results: ScanResults, options: RenderOptions) -> bytes:
    from weasyprint import HTML

    document = HTML(string=render_html(results, options, paged=True)).render()
    # No clock: the PDF carries the scan's own finish time, so equal results give equal bytes.
    document.metadata.created = results.finished_at
    document.metadata.modified = results.finished_at
    with _source_date(results.finished_at):
        pdf: bytes = document.write_pdf()
    return pdf


class PdfFormatter(Formatter):
    name = "pdf"
    extension = "report.pdf"
    description = "auditor report as PDF (WeasyPrint, print stylesheet)"
    binary = True

    def render(self, results: ScanResults, options: RenderOptions) -> bytes:
        return render_pdf(results, options)

    def unavailable(self) -> str | None:
        return weasyprint_problem()


def weasyprint_problem() -> str | None:
    """Why WeasyPrint cannot load, in words: it needs the Pango system libraries, which
    `pip install` cannot provide."""
    try:
        import weasyprint  # noqa: F401
    except ImportError:
        return "WeasyPrint is not installed (pip install weasyprint)"
    except OSError as exc:  # its cffi binding could not open a system library
        return (
            f"WeasyPrint cannot load a system library ({' '.join(str(exc).split())[:200]}); "
            "install Pango, e.g. `apt-get install libpango-1.0-0 libpangoft2-1.0-0` on "
            "Debian/Ubuntu or `brew install pango` on macOS"
        )
    return None
