"""`auditor report`, `auditor controls` and `auditor verify` through click's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor.commands.report import commands, controls_group, report_command, verify_command
from auditor.formatters.base import RenderOptions, formatters
from tests.report.sample import sample_results


@pytest.fixture
def results_file(tmp_path: Path) -> Path:
    path = tmp_path / "scan.json"
    path.write_bytes(formatters()["json"].render(sample_results(), RenderOptions()))
    return path


def test_the_module_exports_its_commands() -> None:
    assert {c.name for c in commands} == {"report", "controls", "verify"}


def test_report_to_one_file_and_to_a_verifiable_folder(results_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "r.sarif"
    done = runner.invoke(report_command, [str(results_file), "--format", "sarif", "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert json.loads(out.read_text())["version"] == "2.1.0"
    folder = tmp_path / "audit"
    done = runner.invoke(
        report_command,
        [
            str(results_file),
            "--format",
            "html",
            "--format",
            "junit",
            "--format",
            "csv",
            "-o",
            str(folder),
        ],
    )
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json",
        "report.html",
        "results.csv",
        "results.json",
        "results.junit.xml",
    ]
    ok = runner.invoke(verify_command, [str(folder)])
    assert ok.exit_code == 0 and ok.output.startswith("OK: 4 files and 16 evidence blocks")
    (folder / "results.csv").write_text("tampered\n")
    bad = runner.invoke(verify_command, [str(folder)])
    assert bad.exit_code == 1
    assert "MISMATCH" in bad.output and "results.csv" in bad.output


def test_report_restricted_to_one_framework(results_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "soc2.html"
    done = CliRunner().invoke(
        report_command, [str(results_file), "--framework", "soc2-tsc-2017", "-o", str(out)]
    )
    assert done.exit_code == 0, done.output
    html = out.read_text()
    assert "Control matrix — SOC 2 TSC 2017" in html and "Control matrix — GDPR" not in html


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, [], "scan.json: results file not found"),
        ("{not json", [], "scan.json:1: not valid JSON"),
        ('{"schema": "x"}', [], "not an Auditor results file (schema is 'x')"),
        ("[]", [], "top level is not an object"),
        ("ok", ["--framework", "iso27001"], "unknown framework 'iso27001'"),
        ("ok", ["--format", "pdf"], "format 'pdf' is binary: give -o/--output"),
    ],
)
def test_report_input_errors_are_one_line(
    tmp_path: Path, results_file: Path, content: str | None, args: list[str], message: str
) -> None:
    path = tmp_path / "scan.json"
    if content is None:
        path.unlink()
    elif content != "ok":
        path.write_text(content)
    done = CliRunner().invoke(report_command, [str(path), *args])
    assert done.exit_code == 2
    assert message in done.output and done.output.count("\n") == 1, done.output
    assert "Traceback" not in done.output


def test_controls_list_and_show() -> None:
    runner = CliRunner()
    listed = runner.invoke(controls_group, ["list"])
    assert listed.exit_code == 0
    assert [line.split()[0] for line in listed.output.splitlines()] == [
        "gdpr",
        "hipaa-164.312",
        "pci-dss-3.2.1",
        "pci-dss-4.0.1",
        "soc2-tsc-2017",
    ]
    one = runner.invoke(controls_group, ["list", "pci-dss-4.0.1"])
    assert one.exit_code == 0 and one.output.splitlines()[0].startswith("3.5.1 ")
    shown = runner.invoke(controls_group, ["show", "hipaa-164.312", "(e)(1)"])
    assert shown.exit_code == 0
    assert "transport.client_connections_encrypted" in shown.output
    assert "not covered:" in shown.output
    missing = runner.invoke(controls_group, ["show", "gdpr", "Art. 99"])
    assert missing.exit_code == 2 and "framework 'gdpr' has no control 'Art. 99'" in missing.output


def test_verify_errors(tmp_path: Path) -> None:
    done = CliRunner().invoke(verify_command, [str(tmp_path / "none")])
    assert done.exit_code == 2 and "none: not a folder" in done.output
    done = CliRunner().invoke(verify_command, [str(tmp_path)])
    # a folder without its manifest fails verification (exit 1), it is not a usage error
    assert done.exit_code == 1 and "manifest.json: not found" in done.output


def test_report_applies_a_waivers_file(results_file: Path, tmp_path: Path) -> None:
    from tests.report.sample import WAIVERS_YAML

    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(WAIVERS_YAML)
    out = tmp_path / "w.csv"
    done = CliRunner().invoke(
        report_command,
        [str(results_file), "--format", "csv", "-o", str(out), "--waivers", str(waivers)],
    )
    assert done.exit_code == 0, done.output
    assert ",auth.password_encryption,,waived," in out.read_text()
    waivers.write_text("waivers:\n  - check: x.y\n")
    bad = CliRunner().invoke(report_command, [str(results_file), "--waivers", str(waivers)])
    assert bad.exit_code == 2 and f"{waivers}:2: waivers[0].reason: required key is missing" in (
        bad.output
    )
