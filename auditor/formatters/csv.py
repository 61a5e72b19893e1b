"""CSV for spreadsheets: one row per result, controls and evidence digest in columns.
Evidence itself is left to the JSON/HTML (it is nested); cells that a spreadsheet would run
as a formula are prefixed with a quote (`safe_text.csv_cell`). Names keep every other
character: the csv module quotes separators, quotes and line breaks, so a cell is read back
exactly."""

from __future__ import annotations

import csv
import io

from auditor.formatters.base import Formatter, RenderOptions
from auditor.manifest import canonical_json, sha256_hex
from auditor.model import ScanResults
from auditor.safe_text import csv_cell

COLUMNS = (
    "target",
    "check_id",
    "resource",
    "status",
    "severity",
    "title",
    "message",
    "controls",
    "remediation",
    "waiver",
    "evidence_sha256",
)


def render_csv(results: ScanResults, framework: str | None = None) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in results.findings:
        controls = "; ".join(
            f"{c.framework} {c.id}"
            for c in r.controls
            if framework is None or c.framework == framework
        )
        waiver = r.evidence.get("waiver") or {}
        waiver_text = (
            (
                f"{waiver.get('reason')} (approved by {waiver.get('approved_by')}"
                + (f" on {waiver['approved']}" if waiver.get("approved") else "")
                + (f", ticket {waiver['ticket']}" if waiver.get("ticket") else "")
                + f", expires {waiver.get('expires')})"
            )
            if waiver
            else ""
        )
        row = (
            r.target,
            r.check_id,
            r.resource or "",
            r.status.value,
            r.severity.value,
            r.title,
            r.message,
            controls,
            r.remediation,
            waiver_text,
            sha256_hex(canonical_json(r.evidence)),
        )
        writer.writerow([csv_cell(str(v)) for v in row])
    return buffer.getvalue().encode("utf-8")


class CsvFormatter(Formatter):
    name = "csv"
    extension = "results.csv"
    description = "CSV, one row per result (spreadsheets)"

    def render(self, results: ScanResults, options: RenderOptions) -> bytes:
        return render_csv(results, options.framework)
