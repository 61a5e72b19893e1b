"""CSV for spreadsheets: one row per result, controls and evidence digest in columns.
Evidence itself is left to the JSON/HTML (it is nested); cells that a spreadsheet would run
as a formula are prefixed with a quote (`safe_text.csv_cell`). Names keep every other
character: the csv module quotes separators, quotes and line breaks, so a cell is read back
exactly."""

from __future__ import annotations

import csv
import io
from typing import Any

from auditor.formatters.base import Formatter, RenderOptions
from auditor.manifest import canonical_json, sha256_hex
from auditor.model import ScanResults
from auditor.safe_text import csv_cell

# Evidence key of the policy value and the observed one (auditor/checks/base.py).
EXPECTED_VS_ACTUAL = "expected_vs_actual"

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
    # The policy value and the observed one, when the check recorded them (appended last so
    # spreadsheets built on the earlier columns keep working).
    "expected",
    "actual",
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
            *_expected_actual(r.evidence),
        )
        writer.writerow([csv_cell(str(v)) for v in row])
    return buffer.getvalue().encode("utf-8")


def _expected_actual(evidence: dict[str, Any]) -> tuple[str, str]:
    found = evidence.get(EXPECTED_VS_ACTUAL)
    if not isinstance(found, dict) or "expected" not in found:
        return "", ""
    actual = found.get("actual")
    shown = "; ".join(map(str, actual)) if isinstance(actual, list) else str(actual)
    return str(found["expected"]), shown


class CsvFormatter(Formatter):
    name = "csv"
    extension = "results.csv"
    description = "CSV, one row per result (spreadsheets)"

    def render(self, results: ScanResults, options: RenderOptions) -> bytes:
        return render_csv(results, options.framework)
