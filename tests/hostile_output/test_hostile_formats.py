"""Every output format survives the hostile-name corpus: names of targets, resources, errors,
messages and evidence that hold escape sequences, line breaks, rich markup, HTML, bidi
overrides, lone surrogates and spreadsheet formulas are shown escaped, never obeyed, and
never dropped."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html import unescape
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console

from auditor.diff import ChangeKind
from auditor.formatters.base import RenderOptions, formatters
from auditor.frameworks import controls_for
from auditor.model import Result, ScanResults, Severity, Status, TargetOutcome, TargetStatus
from auditor.progress import ScanProgress
from auditor.safe_text import csv_cell, display_block, display_text, xml_text
from tests.conftest import FIXTURES
from tests.hostile_output.corpus import HOSTILE_NAMES, RAW_FORBIDDEN, SURROGATE_NAME, marker

SARIF_SCHEMA = FIXTURES / "sarif" / "sarif-2.1.0-rtm.5.json"
SGR = re.compile(r"\x1b\[[0-9;]*m")  # rich's own colours: the only escape it may emit


def hostile_results() -> ScanResults:
    """One failing, one erroring and one passing result per hostile name, the name used as
    target, resource, message and evidence at once; plus an unreachable hostile target."""
    findings = []
    targets = []
    for name in HOSTILE_NAMES:
        targets.append(TargetOutcome(name, "postgres", TargetStatus.SCANNED))
        for check_id, status in (
            ("column.sensitive_encrypted", Status.FAIL),
            ("column.plaintext_pii", Status.ERROR),
            ("transport.ssl_enabled", Status.PASS),
        ):
            findings.append(
                Result(
                    check_id=check_id,
                    target=name,
                    status=status,
                    severity=Severity.HIGH,
                    title="Declared sensitive columns hold OpenPGP ciphertext",
                    message=f"{name}: 3 of 10 sampled values are not ciphertext",
                    resource=f"{name}.{name}",
                    evidence={"column": name, "roles": [name], "subject": f"CN={name}"},
                    remediation=f"GRANT SELECT ON {name} TO auditor;",
                    controls=controls_for(check_id),
                )
            )
    targets.append(
        TargetOutcome(
            "h99\x1b[31mdown\n", "postgres", TargetStatus.UNREACHABLE, "refused\r\n[/]\x1b[2J"
        )
    )
    return ScanResults(
        run_id="00000000-0000-4000-8000-000000000011",
        started_at="2026-12-01T10:00:00Z",
        finished_at="2026-12-01T10:00:05Z",
        targets=tuple(targets),
        findings=tuple(findings),
        tool_version="0.1.0",
    )


@pytest.fixture(scope="module")
def results() -> ScanResults:
    return hostile_results()


def render(fmt: str, results: ScanResults, color: bool = False) -> bytes:
    return formatters()[fmt].render(results, RenderOptions(color=color))


def _no_raw_controls(text: str) -> None:
    bad = sorted({f"U+{ord(c):04X}" for c in text if c in RAW_FORBIDDEN})
    assert not bad, f"raw control or invisible characters in output: {bad}"
    assert not re.search("[\ud800-\udfff]", text)


# -- the sanitiser itself ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", (*HOSTILE_NAMES, SURROGATE_NAME), ids=[marker(n) for n in (*HOSTILE_NAMES, "h17")]
)
def test_display_text_is_one_visible_line_that_keeps_the_name(name: str) -> None:
    shown = display_text(name)
    assert "\n" not in shown and "\x1b" not in shown and "\t" not in shown
    _no_raw_controls(shown)
    assert shown.startswith(marker(name))
    shown.encode("utf-8")  # never raises, lone surrogates included
    assert len(shown) <= 2000


def test_escapes_are_visible_and_distinct() -> None:
    assert display_text("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert display_text("a\r\nb") == "a\\r\\nb"
    assert display_text("x\u202ey") == "x\\u202ey"
    assert display_text("\udcff") == "\\udcff"
    assert display_text("plain ünïcödé [b]ok[/b] <i>") == "plain ünïcödé [b]ok[/b] <i>"
    assert display_block("line1\nline2\x1b") == "line1\nline2\\x1b"
    assert xml_text("a\x00\x1b\ttab") == "a\\x00\\x1b\\ttab"
    assert xml_text("<&>\"'") == "<&>\"'"  # left to the XML serialiser
    for formula in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "  =1"):
        assert csv_cell(formula).startswith(("'", "\\r"))  # quoted, or CR shown as text
    assert csv_cell("users.email") == "users.email"


# -- terminal ------------------------------------------------------------------------------


def test_plain_terminal_has_one_line_per_result_and_no_controls(results: ScanResults) -> None:
    text = render("terminal", results).decode("utf-8")
    _no_raw_controls(text)
    assert "\x1b" not in text
    lines = text.split("\n")
    # targets, blank, one line per result, blank, control summary, blank, summary, newline
    assert lines[len(results.targets)] == ""
    start = len(results.targets) + 1
    end = lines.index("", start)
    result_lines = lines[start:end]
    assert len(result_lines) == len(results.findings)
    control_lines = lines[end + 1 : -3]
    assert lines[-3] == "" and lines[-1] == ""
    assert control_lines and all(
        line.startswith("controls ") or line.startswith("  ") for line in control_lines
    )
    assert all(re.match(r"(FAIL|ERROR|PASS) ", line) for line in result_lines)
    real_checks = {f.check_id for f in results.findings}
    assert all(line.split()[2] in real_checks for line in result_lines)  # nothing forged
    assert not any(line.startswith("FAIL     critical forged") for line in lines)
    for name in HOSTILE_NAMES:
        assert f"target {marker(name)}" in text
    assert "target h99\\x1b[31mdown\\n (postgres): unreachable - refused\\r\\n[/]\\x1b[2J" in text


def test_colour_terminal_never_crashes_and_emits_only_its_own_colours(
    results: ScanResults,
) -> None:
    raw = render("terminal", results, color=True).decode("utf-8")
    assert "\x1b]" not in raw  # no OSC: no hyperlinks, no window titles
    text = SGR.sub("", raw)
    assert "\x1b" not in text
    _no_raw_controls(text)
    flat = re.sub(r"[\s│┃┆┊║|]+", "", text)
    for name in HOSTILE_NAMES:
        assert marker(name) in flat
    assert "[/]" in flat and "[link=file:///etc/passwd]x[/link]" in flat  # shown, not obeyed
    assert "h06[/]" in flat


def test_progress_display_takes_hostile_target_names(monkeypatch: pytest.MonkeyPatch) -> None:
    names = list(HOSTILE_NAMES)
    progress = ScanProgress(names)
    for name in names:
        progress(name, f"collecting {name}")
    buffer = io.StringIO()
    Console(file=buffer, force_terminal=True, width=200, color_system="standard").print(
        progress._progress.get_renderable()  # what the live display draws
    )
    text = SGR.sub("", buffer.getvalue())
    assert "\x1b" not in text and "\x1b]" not in buffer.getvalue()
    _no_raw_controls(text)
    assert "h06[/]" in text and "h07[link=file:///etc/passwd]x[/link]" in text


def test_lone_surrogates_are_escaped_in_terminal_junit_and_csv() -> None:
    from dataclasses import replace

    base = hostile_results()
    odd = replace(base.findings[0], target=SURROGATE_NAME, resource=SURROGATE_NAME)
    results = replace(base, findings=(odd,), targets=(base.targets[0],))
    assert "h17\\udcffsurrogate" in render("terminal", results).decode("utf-8")
    assert "h17\\udcffsurrogate" in render("terminal", results, color=True).decode("utf-8")
    assert "h17\\udcffsurrogate" in render("csv", results).decode("utf-8")
    ET.fromstring(render("junit", results))


# -- machine formats -----------------------------------------------------------------------


def test_json_is_valid_and_keeps_names_exactly(results: ScanResults) -> None:
    document = json.loads(render("json", results))
    names = {f["target"] for f in document["findings"]}
    assert set(HOSTILE_NAMES) <= names  # lossless: JSON escapes, nothing is rewritten


def test_sarif_is_valid_json_and_schema(results: ScanResults) -> None:
    document = json.loads(render("sarif", results))
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text())).validate(document)
    # Passes and skips are counted, not listed (GitHub code scanning's convention).
    listed = [f for f in results.findings if f.status not in (Status.PASS, Status.SKIP)]
    assert listed and len(document["runs"][0]["results"]) == len(listed)


def test_junit_is_well_formed_xml_with_every_name(results: ScanResults) -> None:
    raw = render("junit", results)
    root = ET.fromstring(raw)  # raises on characters XML 1.0 forbids
    suites = root.findall("testsuite")
    assert len(suites) == len(results.targets)
    suite_names = [s.get("name") or "" for s in suites]
    for name in HOSTILE_NAMES:
        assert any(s.startswith(marker(name)) for s in suite_names)
    assert "h01\\x1b[2J" in suite_names[0]
    assert int(root.get("failures") or 0) == len(HOSTILE_NAMES)
    failures = root.findall(".//failure")
    assert any("<script>" in (f.get("message") or "") for f in failures)  # text, not markup
    assert root.find(".//x") is None  # `]]><x/>` stayed text


def test_csv_round_trips_names_and_defuses_formulas(results: ScanResults) -> None:
    raw = render("csv", results).decode("utf-8")
    assert "\x1b" not in raw and "\u202e" not in raw  # safe on a terminal too
    rows = list(csv.DictReader(io.StringIO(raw)))
    assert len(rows) == len(results.findings)
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))
    targets = {row["target"] for row in rows}
    assert "'h18=cmd|' /C calc'!A0" not in targets  # starts with h: no prefix needed
    assert "h18=cmd|' /C calc'!A0" in targets
    assert "h03\nFAIL     critical forged.line   a forged result line" in targets  # one cell
    messages = {row["remediation"] for row in rows}
    assert all(not m.startswith("=") for m in messages)
    formula_rows = [r for r in rows if r["evidence_sha256"]]
    assert len(formula_rows) == len(rows)


def test_csv_formula_in_first_position_is_quoted() -> None:
    base = hostile_results()
    first = base.findings[0]
    from dataclasses import replace

    evil = replace(first, target="=cmd|' /C calc'!A0", resource="@SUM(1)", message="-2+3")
    rows = list(
        csv.reader(io.StringIO(render("csv", replace(base, findings=(evil,))).decode("utf-8")))
    )
    assert rows[1][0] == "'=cmd|' /C calc'!A0"
    assert rows[1][2] == "'@SUM(1)"
    assert rows[1][6] == "'-2+3"


def test_html_shows_names_as_text_never_markup(results: ScanResults) -> None:
    html = render("html", results).decode("utf-8")
    tags = set(re.findall(r"<([A-Za-z][\w-]*)", html))
    assert "script" not in tags and "x" not in tags  # no element came from a name
    assert "&lt;script&gt;" in html
    _no_raw_controls(html)
    text = unescape(re.sub(r"<[^>]*>", "", html))
    assert "h09<script>alert(1)</script>" in text  # escaped, shown as written
    assert "h14\\u202etxt.exe" in text  # the override is visible, not obeyed
    assert "h01\\x1b[2J" in text


# A few names keep the PDF quick on a loaded machine; the HTML test above takes them all.
PDF_NAMES = ("h01", "h06", "h09", "h14", "h16")


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) missing")
def test_pdf_renders_names_as_text(results: ScanResults, tmp_path: Path) -> None:
    small = ScanResults(
        run_id=results.run_id,
        started_at=results.started_at,
        finished_at=results.finished_at,
        targets=tuple(t for t in results.targets if t.name[:3] in PDF_NAMES),
        findings=tuple(
            f for f in results.findings if f.status is Status.FAIL and f.target[:3] in PDF_NAMES
        ),
        tool_version=results.tool_version,
    )
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render("pdf", small))
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = text.replace("\n", "")
    for needle in ("h09<script>alert(1)</script>", "h06[/]", "h14\\u202etxt.exe", "h01\\x1b[2J"):
        assert needle in flat
    assert "h16LLLL" in flat and "more characters in results.json" in flat


def test_history_diff_lines_show_names_on_one_line(results: ScanResults) -> None:
    from dataclasses import replace

    from auditor.history import diff_results

    # Every verdict changes between the two runs (same checks, so they are comparable).
    flipped = {Status.FAIL: Status.PASS, Status.PASS: Status.FAIL}
    before = replace(
        results,
        findings=tuple(
            replace(f, status=flipped.get(f.status, Status.PASS)) for f in results.findings
        ),
    )
    diff = diff_results(before, results)
    lines = diff.lines()
    text = "\n".join(lines)
    _no_raw_controls(text)
    assert "\x1b" not in text
    changed = [ln for ln in lines if ln.startswith("  ")]
    shown = [
        c for kind in ChangeKind if kind is not ChangeKind.STILL_FAILING for c in diff.of(kind)
    ]
    assert changed and len(changed) == len(shown)  # one line per change, none forged
    assert any("h06[/]" in ln for ln in changed)


def test_invisible_tag_characters_are_shown() -> None:
    assert display_text("admin\U000e0041") == "admin\\U000e0041"
