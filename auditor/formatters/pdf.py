"""The PDF report: the HTML report laid out by WeasyPrint with its print stylesheet (running
header and footer, page numbers, contents with page references, rows kept whole).

WeasyPrint is imported lazily: it is slow to import and only this format needs it.
"""

from __future__ import annotations

from auditor.formatters.base import Formatter, RenderOptions
from auditor.formatters.html import render_html
from auditor.model import ScanResults


def render_pdf(results: ScanResults, options: RenderOptions) -> bytes:
    from weasyprint import HTML

    document = HTML(string=render_html(results, options)).render()
    # No clock: the PDF carries the scan's own finish time, so equal results give equal bytes.
    document.metadata.created = results.finished_at
    document.metadata.modified = results.finished_at
    pdf: bytes = document.write_pdf()
    return pdf


class PdfFormatter(Formatter):
    name = "pdf"
    extension = "report.pdf"
    description = "auditor report as PDF (WeasyPrint, print stylesheet)"
    binary = True

    def render(self, results: ScanResults, options: RenderOptions) -> bytes:
        return render_pdf(results, options)
