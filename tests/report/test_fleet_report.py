"""The report at fleet scale, on synthetic results of 300 targets (benchmarks/fleet_results.py):
an executive summary that names the failing targets, matrices that count outcomes instead of
listing 300 names per check, per-target detail, a short cover scope and the full inventory in
Appendix A; the printed variant (PDF) read back with pdftotext."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor.commands.report import report_command, verify_command
from auditor.formatters.base import RenderOptions
from auditor.formatters.html import COVER_TARGETS, PRINTED_NAMES, render_html
from auditor.formatters.pdf import render_pdf
from auditor.lab.cluster import Cluster
from auditor.model import ScanResults, Status
from auditor.report_model import build_report
from auditor.split_report import GROUPS_FOLDER
from benchmarks.fleet_results import UNREACHABLE, fleet_results, target_name
from tests.conftest import AUDITOR_PASSWORD, target_yaml
from tests.spine.test_cli import SPINE, run_cli, write_config


@pytest.fixture(scope="module")
def fleet() -> ScanResults:
    return fleet_results(1000, 300)


@pytest.fixture(scope="module")
def html(fleet: ScanResults) -> str:
    return render_html(fleet, RenderOptions())


def _failing(results: ScanResults) -> set[str]:
    return {f.target for f in results.findings if f.status is Status.FAIL}


def _section(html: str, section_id: str) -> str:
    found = re.search(rf'<section[^>]*id="{section_id}".*?</section>', html, re.S)
    assert found, section_id
    return found.group(0)


def test_executive_summary_names_every_failing_target_worst_first(
    fleet: ScanResults, html: str
) -> None:
    summary = _section(html, "summary")
    failing = _failing(fleet)
    assert 50 < len(failing) < 300  # the synthetic fleet has both kinds
    named = set(re.findall(r'<a href="#target-\d+">(db-\d{3})</a>', summary))
    assert named == failing
    assert f"{len(failing)} with unwaived failures" in summary
    # The one unreachable target is named as not scanned.
    assert f"{target_name(UNREACHABLE)} (postgres) — unreachable" in summary
    report = build_report(fleet)
    worst = [t.worst.rank for t in report.failing_targets]
    assert worst == sorted(worst, reverse=True)


def test_cover_lists_few_targets_and_appendix_a_lists_them_all(
    fleet: ScanResults, html: str
) -> None:
    cover = html[html.index('<header class="cover"') : html.index("</header>")]
    listed = re.findall(r"<b>(db-\d{3})</b>", cover)
    assert listed == [target_name(t) for t in range(COVER_TARGETS)]
    assert f"and {300 - COVER_TARGETS} more, see Appendix A" in cover
    appendix = _section(html, "scope")
    assert "Appendix A — Scope: assets examined" in appendix
    for t in range(300):
        assert f"<b>{target_name(t)}</b>" in appendix
    assert "endpoint: db-001.db.example.internal:5432" in appendix
    assert "data checksums: no" in appendix and "ssl: on (OpenSSL)" in appendix
    assert "auditor: superuser no; bypassrls no; member of pg_monitor" in appendix


def test_matrices_count_outcomes_and_name_failing_targets(fleet: ScanResults, html: str) -> None:
    matrix = _section(html, "fw-pci-dss-4.0.1")
    # Counted per outcome, not 300 "db-xyz: pass" entries per check.
    assert "pass on " in matrix and " targets" in matrix
    assert "db-010: pass" not in matrix
    named = set(re.findall(r"Fails on (db-\d{3}):", matrix))
    assert named and named <= _failing(fleet)


def test_per_target_detail_lists_each_failure_under_its_target(
    fleet: ScanResults, html: str
) -> None:
    detail = _section(html, "targets")
    report = build_report(fleet)
    some = report.failing_targets[0]
    block = detail[detail.index(f'id="{report.anchor(some.name)}"') :]
    block = block[: block.index('<div class="target"', 10)]
    failures = [f for f in fleet.findings if f.target == some.name and f.status is Status.FAIL]
    assert block.count("expected ciphertext, observed plaintext e-mail") == len(failures)


def test_printed_report_cuts_lists_and_summarises_passes(fleet: ScanResults, html: str) -> None:
    paged = render_html(fleet, RenderOptions(), paged=True)
    full = html
    assert "Targets on which every check passed" in paged
    assert "Targets on which every check passed" not in full
    assert " more (see Targets with failures)" in paged
    assert len(paged) < len(full)
    # Every target still appears in the printed appendix.
    appendix = _section(paged, "scope")
    assert all(f"{target_name(t)} (postgres)" in appendix for t in range(300))
    assert PRINTED_NAMES < 300


def test_pdf_text_has_summary_failing_targets_and_inventory(
    fleet: ScanResults, tmp_path: Path
) -> None:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (Debian poppler-utils) is needed to read the PDF")
    path = tmp_path / "fleet.pdf"
    path.write_bytes(render_pdf(fleet_results(300, 300), RenderOptions()))
    text = subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "Executive summary" in text and "Targets with failures" in text
    assert "and 290 more, see Appendix A" in text
    assert "Appendix A — Scope: assets examined" in text
    flat = " ".join(text.split())
    for t in range(300):  # the full inventory, even of targets with nothing to report
        assert f"{target_name(t)} (postgres)" in flat
    small = fleet_results(300, 300)
    for name in _failing(small):
        assert name in flat


def _write_results(results: ScanResults, path: Path, labelled: bool) -> Path:
    from auditor.formatters.json_results import results_to_dict
    from benchmarks.fleet_results import with_labels

    document = results_to_dict(results)
    if labelled:
        document = with_labels(document)
    path.write_text(json.dumps(document))
    return path


def test_split_by_label_writes_one_verifiable_folder_per_value_and_an_index(
    tmp_path: Path,
) -> None:
    small = fleet_results(120, 30)
    source = _write_results(small, tmp_path / "fleet.json", labelled=True)
    # One target without labels groups under "(unlabelled)".
    document = json.loads(source.read_text())
    del document["targets"][4]["labels"]
    source.write_text(json.dumps(document))
    out = tmp_path / "by-env"
    done = CliRunner().invoke(
        report_command,
        [str(source), "--split-by", "label:env", "--format", "html", "-o", str(out)],
    )
    assert done.exit_code == 0, done.output
    groups = sorted(p.name for p in (out / GROUPS_FOLDER).iterdir())
    assert groups == sorted(["prod", "staging", "dev", "unlabelled-" + groups[-1][-8:]])
    index = (out / "index.html").read_text()
    for name in ("prod", "staging", "dev", "(unlabelled)"):
        assert f"<td>{name}</td>" in index
    prod = json.loads((out / GROUPS_FOLDER / "prod" / "results.json").read_text())
    expected = {target_name(t) for t in range(30) if t % 3 == 0 and t != 4}
    assert {t["name"] for t in prod["targets"]} == expected
    assert {f["target"] for f in prod["findings"]} <= expected
    assert prod["run"]["metadata"]["split"] == {
        "by": "label:env",
        "group": "prod",
        "of_run": "fleet-bench",
    }
    html = (out / GROUPS_FOLDER / "prod" / "report.html").read_text()
    assert "db-003" in html and "db-001" not in html
    done = CliRunner().invoke(verify_command, [str(out / GROUPS_FOLDER / "prod")])
    assert done.exit_code == 0, done.output


def test_split_by_target_writes_one_folder_per_target(tmp_path: Path) -> None:
    small = fleet_results(40, 12)
    source = _write_results(small, tmp_path / "fleet.json", labelled=False)
    out = tmp_path / "by-target"
    done = CliRunner().invoke(
        report_command,
        [str(source), "--split-by", "target", "--format", "html", "-o", str(out)],
    )
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in (out / GROUPS_FOLDER).iterdir()) == [
        target_name(t) for t in range(12)
    ]
    # Without labels, a label split puts every target under "(unlabelled)".
    out2 = tmp_path / "by-unit"
    done = CliRunner().invoke(
        report_command,
        [str(source), "--split-by", "label:unit", "--format", "json", "-o", str(out2)],
    )
    assert done.exit_code == 0, done.output
    (only,) = list((out2 / GROUPS_FOLDER).iterdir())
    assert len(json.loads((only / "results.json").read_text())["targets"]) == 12


def test_scan_split_by_target_keeps_the_signed_run_and_writes_groups(
    compliant_cluster: Cluster, weak_cluster: Cluster, tmp_path: Path
) -> None:
    assert run_cli("keygen", str(tmp_path / "org")).returncode == 0
    config = write_config(
        tmp_path,
        target_yaml("good", compliant_cluster.dsn("auditor"), password="{env: PW}"),
        target_yaml("weak", weak_cluster.dsn("auditor"), password="{env: PW}"),
    )
    out = tmp_path / "out"
    proc = run_cli(
        "scan",
        "-c",
        str(config),
        "--format",
        "html",
        "-o",
        str(out),
        "--split-by",
        "target",
        *SPINE,
        env={"PW": AUDITOR_PASSWORD, "AUDITOR_SIGN_KEY": str(tmp_path / "org")},
    )
    assert proc.returncode == 1, proc.stderr  # the weak target fails
    # The whole run, signed, where a scan without --split-by would have written it.
    done = run_cli("verify", str(out / "run"), "--public-key", str(tmp_path / "org.pub"))
    assert done.returncode == 0, done.stdout
    for name in ("good", "weak"):
        part = json.loads((out / GROUPS_FOLDER / name / "results.json").read_text())
        assert [t["name"] for t in part["targets"]] == [name]
        assert "attestation" not in part  # the scan signed the whole run, not a part
        assert run_cli("verify", str(out / GROUPS_FOLDER / name)).returncode == 0
    index = (out / "index.html").read_text()
    assert 'href="groups/good/report.html"' in index and "<td>weak</td>" in index
