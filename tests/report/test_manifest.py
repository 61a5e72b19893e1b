"""Evidence manifest: written beside the reports, and any later change is caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.formatters.base import RenderOptions, formatters
from auditor.manifest import (
    MANIFEST_NAME,
    ManifestError,
    canonical_json,
    sha256_hex,
    verify_report_dir,
    write_report_dir,
)
from tests.report.sample import sample_results


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    chosen = [formatters()[n] for n in ("html", "sarif", "csv", "junit")]
    write_report_dir(sample_results(), chosen, tmp_path / "out", RenderOptions())
    return tmp_path / "out"


def test_a_fresh_report_folder_verifies(report_dir: Path) -> None:
    names = sorted(p.name for p in report_dir.iterdir())
    assert names == [
        "manifest.json",
        "report.html",
        "results.csv",
        "results.json",
        "results.junit.xml",
        "results.sarif",
    ]
    outcome = verify_report_dir(report_dir)
    assert outcome.ok and outcome.checked_files == 5
    assert outcome.checked_evidence == len(sample_results().findings)
    manifest = json.loads((report_dir / MANIFEST_NAME).read_text())
    first = sample_results().findings[0]
    assert manifest["evidence"][0]["sha256"] == sha256_hex(canonical_json(first.evidence))
    # The HTML cites the same results digest the manifest records.
    assert manifest["results"]["sha256"] in (report_dir / "report.html").read_text()


def test_a_changed_report_file_is_caught(report_dir: Path) -> None:
    html = report_dir / "report.html"
    html.write_text(html.read_text().replace("app-db", "app-dB", 1))
    outcome = verify_report_dir(report_dir)
    assert not outcome.ok
    assert outcome.problems == (f"{html}: SHA-256 differs from the manifest (file changed)",)


def test_edited_evidence_is_caught_block_by_block(report_dir: Path) -> None:
    path = report_dir / "results.json"
    data = json.loads(path.read_text())
    index = next(
        i
        for i, f in enumerate(data["findings"])
        if f["check_id"] == "auth.password_encryption" and f["target"] == "app-db"
    )
    data["findings"][index]["evidence"]["password_encryption"]["value"] = "scram-sha-256"
    path.write_text(json.dumps(data, indent=2) + "\n")
    problems = verify_report_dir(report_dir).problems
    assert problems[0] == f"{path}: SHA-256 differs from the manifest (results changed)"
    assert problems[1:] == (
        f"{path}: evidence block {index} (app-db/auth.password_encryption) "
        "differs from the manifest",
    )


def test_a_missing_file_and_a_missing_manifest(report_dir: Path) -> None:
    (report_dir / "results.csv").unlink()
    assert verify_report_dir(report_dir).problems == (
        f"{report_dir / 'results.csv'}: listed in the manifest but missing",
    )
    (report_dir / MANIFEST_NAME).unlink()
    with pytest.raises(ManifestError, match=r"manifest.json: not found$"):
        verify_report_dir(report_dir)


def test_a_manifest_cannot_point_outside_its_folder(report_dir: Path) -> None:
    path = report_dir / MANIFEST_NAME
    manifest = json.loads(path.read_text())
    manifest["files"][0]["name"] = "../elsewhere"
    path.write_text(json.dumps(manifest))
    with pytest.raises(
        ManifestError, match=r"'\.\./elsewhere' is not a file name inside the folder"
    ):
        verify_report_dir(report_dir)
