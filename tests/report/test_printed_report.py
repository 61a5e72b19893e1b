"""The printed report (PDF) says what the screen's report says in fewer lines (fewer lines lay
out faster): nothing an auditor needs may get lost on the way. Read back with pdftotext, on a
synthetic fleet where every kind of line occurs (failures on more targets than a printed list
names, skips, an unreachable target, checks that ran nowhere, platform alternatives)."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from auditor.formatters.base import RenderOptions
from auditor.formatters.html import PRINTED_NAMES, render_html
from auditor.formatters.pdf import render_pdf
from auditor.model import ScanResults, Status
from auditor.report_model import Report, build_report, printed_control
from benchmarks.fleet_results import UNREACHABLE, fleet_results, target_name


@pytest.fixture(scope="module")
def fleet() -> ScanResults:
    # 60 targets: every check of the synthetic fleet runs, and some controls fail on more
    # targets than a printed list names.
    return fleet_results(1000, 60)


@pytest.fixture(scope="module")
def report(fleet: ScanResults) -> Report:
    return build_report(fleet)


@pytest.fixture(scope="module")
def pdf_text(fleet: ScanResults, tmp_path_factory: pytest.TempPathFactory) -> str:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (Debian poppler-utils) is needed to read the PDF")
    path = tmp_path_factory.mktemp("printed") / "fleet.pdf"
    path.write_bytes(render_pdf(fleet, RenderOptions()))
    return subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def _flat(text: str) -> str:
    """The text without its line breaks (a list of names wraps anywhere between names)."""
    return " ".join(text.split())


def _between(text: str, start: str, end: str) -> str:
    assert start in text, start
    rest = text[text.index(start) + len(start) :]
    return rest[: rest.index(end)] if end in rest else rest


def _matrix(report: Report, text: str, framework_id: str) -> str:
    """One framework's control matrix as printed: from its heading to the next section's."""
    labels = [v.framework.label for v in report.frameworks]
    view = next(v for v in report.frameworks if v.framework.id == framework_id)
    index = labels.index(view.framework.label)
    after = (
        f"Control matrix — {labels[index + 1]}"
        if index + 1 < len(labels)
        else "Findings by severity"
    )
    # The contents page names every matrix too: start after it.
    body = text[text.index("Executive summary", text.index("Appendix B")) :]
    return _flat(_between(body, f"Control matrix — {view.framework.label}", after))


def test_printed_row_keeps_every_check_and_every_failing_target(report: Report) -> None:
    rows = [row for v in report.frameworks for row in v.rows]
    cut = [row for row in rows if len(row.failing_targets) > PRINTED_NAMES]
    assert cut, "the fleet must fail some control on more targets than a list names"
    assert any(e.excused for row in rows for e in row.checks)
    for row in rows:
        printed = printed_control(row, PRINTED_NAMES)
        # Every mapped check is named once: with its outcomes, or as one that ran nowhere.
        listed = [c.check_id for c in printed.checks]
        listed += [c for _, ids in printed.not_run for c in ids]
        assert sorted(listed) == sorted(e.check_id for e in row.checks)
        # The first failing targets are named with what fails on them; the rest counted.
        failing = row.failing_targets
        named = [(text, t) for text, names in printed.failing for t in names]
        expected = [(t.text, t.target) for t in failing[:PRINTED_NAMES]]
        assert sorted(named) == sorted(expected)
        assert printed.failing_total == len(failing)
        assert printed.failing_more == max(len(failing) - PRINTED_NAMES, 0)
        # Skips and errors keep their targets and reasons.
        gaps = {(g.check_id, g.target, g.reason) for g in row.not_assessed if g.target}
        kept = {(g.check_id, t, g.reason) for g in printed.gaps for t in g.targets}
        assert kept == gaps


def test_pdf_matrices_name_failing_targets_and_why_checks_did_not_run(
    report: Report, pdf_text: str
) -> None:
    seen_more = False
    for view in report.frameworks:
        matrix = _matrix(report, pdf_text, view.framework.id)
        for row in view.rows:
            assert row.control.id in matrix
            failing = row.failing_targets
            for t in failing[:PRINTED_NAMES]:
                assert re.search(rf"\b{t.target}\b", matrix), (row.control.id, t.target)
                assert t.text in matrix
            if len(failing) > PRINTED_NAMES:
                seen_more = True
                more = f"and {len(failing) - PRINTED_NAMES} more (see Targets with failures)"
                assert more in matrix
            for gap in row.not_assessed:
                assert gap.check_id in matrix and gap.reason in matrix
    assert seen_more


def test_pdf_summary_names_every_failing_target_with_what_fails(
    fleet: ScanResults, report: Report, pdf_text: str
) -> None:
    summary = _flat(_between(pdf_text, "Targets with failures", "Targets not scanned"))
    failing = {f.target for f in fleet.findings if f.status is Status.FAIL}
    assert set(re.findall(r"db-\d{3}", summary)) == failing
    for first, targets in report.failing_target_groups:
        assert f"{', '.join(first.checks)} — {len(targets)} target" in summary
        assert sum(len(ts) for _, ts in report.failing_target_groups) == len(failing)
    unreachable = _flat(_between(pdf_text, "Targets not scanned", "Per framework"))
    assert f"{target_name(UNREACHABLE)} (postgres) — unreachable" in unreachable


def test_pdf_target_detail_keeps_each_failure_with_its_evidence(
    fleet: ScanResults, report: Report, pdf_text: str
) -> None:
    detail = _flat(_between(pdf_text, "Per-target detail\nEach target", "Waivers and attestations"))
    failures = [f for f in fleet.findings if f.status is Status.FAIL]
    for f in failures:
        assert f"#{report.entry_number(f)} [{f.severity.value}] {f.check_id}" in detail
    # (pdftotext drops the hyphen of "e-mail" where the line broke after it.)
    assert detail.count("(expected ciphertext, observed plaintext e") == len(failures)
    # The evidence line beside each: what was observed, without restating expected/observed.
    assert detail.count("matches: 12 · masked_examples: j***@e***.com, a***@b***.org") == len(
        failures
    )
    assert "expected_vs_actual" not in detail
    # Each failing target's heading says its status and counts on one line.
    assert re.search(r"db-\d{3} \(postgres\) — FAIL · scanned · \d+ fail", detail)


def test_printed_blocks_of_lines_keep_each_scanned_value_on_its_line() -> None:
    """The printed detail and inventory are blocks of lines (`<pre>`): a line break inside a
    scanned value (message, resource, evidence, skip reason, target error) is shown as a
    visible escape, never as a new line that reads like another finding or target."""
    forged = "\n#999 [low] forged.check — all good"
    base = fleet_results(200, 20)
    failing = next(f for f in base.findings if f.status is Status.FAIL)
    skipped = next(f for f in base.findings if f.status is Status.SKIP)
    hostile = replace(
        failing,
        message="weak" + forged,
        resource="app.t" + forged,
        evidence={"seen": "x" + forged},
    )
    gap = replace(skipped, message="no grant" + forged)
    outcomes = tuple(
        replace(t, error="refused" + forged) if t.name == target_name(UNREACHABLE) else t
        for t in base.targets
    )
    findings = tuple(hostile if f is failing else gap if f is skipped else f for f in base.findings)
    results = replace(base, findings=findings, targets=outcomes)
    paged = render_html(results, RenderOptions(), paged=True)
    blocks = re.findall(r'<pre class="(?:tb|inv|names)">(.*?)</pre>', paged, re.S)
    assert blocks
    lines = [line.strip() for block in blocks for line in block.split("\n")]
    assert not any(line.startswith("#999") for line in lines)
    # Message, resource, evidence, skip reason and target error (detail and inventory).
    shown = "\n".join(blocks)
    assert shown.count("\\n#999 [low] forged.check — all good") == 5


def test_pdf_groups_targets_whose_only_gaps_are_unevaluated_checks(tmp_path: Path) -> None:
    """A target with nothing failing but skipped or errored checks is printed once, in a group
    that states its status line and each check that reached no verdict with why."""
    fleet = fleet_results(300, 100)  # few results per target: some only skip
    report = build_report(fleet)
    path = tmp_path / "fleet.pdf"
    path.write_bytes(render_pdf(fleet, RenderOptions()))
    pdf_text = subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    only_gaps = [d for d in report.details if d.gaps_only]
    assert only_gaps, "the fleet must have targets whose only gaps are skips"
    section = _flat(
        _between(
            pdf_text,
            "Targets on which nothing failed but some checks reached no verdict",
            "Targets on which every check passed",
        )
    )
    detail = _flat(_between(pdf_text, "Per-target detail\nEach target", "Waivers and attestations"))
    for d in only_gaps:
        assert d.group.title in section
        assert detail.count(f"{d.outcome.name} ") == 1, d.outcome.name  # not repeated per target
        for u in d.unevaluated:
            assert f"{u.status}: {', '.join(u.checks)} — {u.reason}" in section
    grouped = sum(len(targets) for _, _, targets in report.gaps_only_groups)
    assert grouped == len(only_gaps)
