"""Every report format from fixed results: golden files for HTML, JSON and SARIF, the SARIF
schema, JUnit and CSV structure, and the PDF's pages (text extracted with pdftotext)."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from auditor.formatters.base import RenderOptions, formatters
from auditor.model import ScanResults, Status
from auditor.waivers import apply_waivers, parse_waivers
from tests.conftest import FIXTURES
from tests.report.conftest import Golden
from tests.report.sample import WAIVERS_YAML, sample_results

SARIF_SCHEMA = FIXTURES / "sarif" / "sarif-2.1.0-rtm.5.json"


@pytest.fixture(scope="module")
def waived() -> ScanResults:
    return apply_waivers(sample_results(), parse_waivers(WAIVERS_YAML))


def render(name: str, results: ScanResults, framework: str | None = None) -> bytes:
    return formatters()[name].render(results, RenderOptions(framework=framework))


def test_every_report_format_is_registered() -> None:
    assert {"html", "pdf", "sarif", "junit", "csv", "json"} <= set(formatters())


@pytest.mark.parametrize(
    ("fmt", "golden_name"),
    [("html", "report.html"), ("json", "results.json"), ("sarif", "results.sarif")],
)
def test_golden(fmt: str, golden_name: str, waived: ScanResults, golden: Golden) -> None:
    first = render(fmt, waived)
    assert render(fmt, waived) == first  # deterministic: no clock, stable order
    golden(golden_name, first)


def test_sarif_is_valid_against_the_official_schema(waived: ScanResults) -> None:
    document = json.loads(render("sarif", waived))
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft4Validator(schema).validate(document)
    results = document["runs"][0]["results"]
    # Passes and skips are counted, not results (GitHub would show them as alerts).
    shown = [f for f in waived.findings if f.status not in (Status.PASS, Status.SKIP)]
    assert len(results) == len(shown) and shown
    assert all("physicalLocation" in r["locations"][0] for r in results)
    by_rule = {(r["ruleId"], r["properties"]["target"]): r for r in results}
    waived_one = by_rule[("auth.password_encryption", "app-db")]
    assert waived_one["kind"] == "fail" and waived_one["level"] == "error"
    assert waived_one["suppressions"][0]["justification"].startswith("Legacy client needs md5")
    assert ("transport.ssl_enabled", "app-db") not in by_rule  # a pass
    omitted = document["runs"][0]["properties"]["omittedVerdicts"]
    assert omitted["pass"] == sum(f.status is Status.PASS for f in waived.findings) > 0
    assert by_rule[("keys.application_key_cache", "app-db")]["kind"] == "review"
    rules = document["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted({f.check_id for f in waived.findings})
    # A broken document is rejected by the same validator (the test can fail).
    document["runs"][0]["results"][0]["kind"] = "bogus"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(schema).validate(document)


def test_junit_has_one_case_per_verdict(waived: ScanResults) -> None:
    root = ET.fromstring(render("junit", waived))
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    expected = {
        (f"auditor.{f.target}", f.check_id + (f" [{f.resource}]" if f.resource else ""))
        for f in waived.findings
    }
    assert set(cases) == expected and len(cases) == len(list(root.iter("testcase")))
    # column.sensitive_encrypted: one resource passes, one fails -> that resource's case fails.
    failure = cases[("auditor.app-db", "column.sensitive_encrypted [users.phone]")].find("failure")
    assert failure is not None and failure.get("type") == "critical"
    assert "users.phone" in (failure.text or "")
    assert cases[("auditor.legacy-db", "transport.ssl_enabled")].find("error") is not None
    assert cases[("auditor.app-db", "auth.role_password_hashes")].find("skipped") is not None
    # The totals are the summary's counts.
    by_status = waived.summary()["by_status"]
    assert root.get("tests") == str(len(waived.findings))
    assert root.get("failures") == str(by_status["fail"])
    assert root.get("errors") == str(by_status["error"])
    assert root.get("skipped") == str(by_status["skip"] + by_status["manual"] + by_status["waived"])


def test_csv_rows_and_formula_escaping(waived: ScanResults) -> None:
    rows = list(csv.DictReader(io.StringIO(render("csv", waived).decode())))
    assert len(rows) == len(waived.findings)
    row = next(
        r for r in rows if r["check_id"] == "auth.password_encryption" and r["target"] == "app-db"
    )
    assert row["status"] == "waived" and "Jane Roe (CISO)" in row["waiver"]
    assert "pci-dss-4.0.1 8.3.2" in row["controls"]
    only = list(csv.DictReader(io.StringIO(render("csv", waived, "gdpr").decode())))
    assert all(c.startswith("gdpr ") for r in only for c in r["controls"].split("; ") if c)
    hostile = ScanResults(
        "r",
        "a",
        "b",
        (),
        tuple(
            f.__class__(**{**f.__dict__, "message": '=HYPERLINK("x")'}) for f in waived.findings[:1]
        ),
        "0",
    )
    assert next(csv.DictReader(io.StringIO(render("csv", hostile).decode())))["message"].startswith(
        "'="
    )


def test_html_is_self_contained_and_cites_every_framework(waived: ScanResults) -> None:
    html = render("html", waived).decode()
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(", html, re.I)
    assert not re.search(r"(src|href)=\"(?!#)", html)
    for label in (
        "GDPR 2016/679",
        "HIPAA 45 CFR 164.312",
        "PCI DSS 3.2.1",
        "PCI DSS 4.0.1",
        "SOC 2 TSC 2017",
    ):
        assert f"Control matrix — {label}" in html
    assert html.count("<svg") == 2
    assert "Legacy client needs md5" in html and "John Doe (platform lead)" in html
    assert "Temporary rule for the migration" in html  # the expired waiver is shown
    single = render("html", waived, "hipaa-164.312").decode()
    assert "Control matrix — HIPAA" in single and "Control matrix — GDPR" not in single


def _pdf_text(pdf: bytes, tmp_path: Path) -> list[str]:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (Debian poppler-utils) is needed to read the PDF")
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return out.split("\f")[:-1]


def test_pdf_pages_have_header_footer_contents_and_page_refs(
    waived: ScanResults, tmp_path: Path
) -> None:
    pdf = render("pdf", waived)
    assert pdf.startswith(b"%PDF-")
    pages = _pdf_text(pdf, tmp_path)
    total = len(pages)
    assert total > 5
    for number, page in enumerate(pages[1:], start=2):  # the cover has no running header
        assert "PostgreSQL encryption compliance report" in page
        assert f"Page {number} of {total}" in page
    contents = pages[1]
    titles = r"(Findings by severity|Per-target detail|Evidence manifest)"
    refs = dict(re.findall(titles + r" … p\. (\d+)", contents))
    assert set(refs) == {"Findings by severity", "Per-target detail", "Evidence manifest"}
    # Each page reference points at the page where that section starts.
    for title, page in refs.items():
        assert re.search(rf"^\s*(Appendix B — )?{title}\s*$", pages[int(page) - 1], re.M), title
    assert all(label in "".join(pages) for label in ("PCI DSS 4.0.1", "SOC 2 TSC 2017"))
    assert render("pdf", waived) == pdf  # deterministic bytes


def test_single_framework_pdf(waived: ScanResults, tmp_path: Path) -> None:
    text = "".join(_pdf_text(render("pdf", waived, "pci-dss-4.0.1"), tmp_path))
    assert "Control matrix — PCI DSS 4.0.1" in text
    assert "Control matrix — GDPR" not in text and "HIPAA 45 CFR" not in text
