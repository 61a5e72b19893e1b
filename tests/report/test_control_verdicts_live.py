"""Acceptance, on real clusters: control verdicts are proven or say what is missing.

* A PostgreSQL-only scan evidences nothing about storage at rest, so the storage-dependent
  controls (GDPR Art. 32(1)(a), PCI DSS 4.0.1 3.5.1) are `partial`, naming the storage checks
  that did not run — in results JSON, HTML and PDF alike.
* With two targets, a control failing on one of them names that target (and its failing
  checks); the other target's column says what held there.
* An attested manual check reads `manual`, attested, in terminal, JSON and HTML.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import auditor
from auditor.formatters.base import RenderOptions, formatters
from auditor.formatters.json_results import results_from_dict
from auditor.lab.cluster import Cluster, Variant
from auditor.model import ScanResults, Status
from auditor.runner import run_scan
from auditor.waivers import apply_waivers, parse_waivers
from tests.conftest import (
    AUDITOR_PASSWORD,
    PG_VARIANTS,
    ClusterFactory,
    config_for,
    target_yaml,
)

SCHEMA = Path(auditor.__file__).parent / "schemas" / "results-v1.schema.json"
STORAGE_ENCRYPTION = {
    "storage.aws_rds_encrypted",
    "storage.aws_rds_snapshots_encrypted",
    "storage.azure_postgres_encrypted",
    "storage.gcp_cloudsql_encrypted",
    "storage.luks_data_directory",
}
ATTESTATION = """\
attestations:
  - check: keys.application_key_cache
    attested_by: Jane Roe (platform lead)
    attested_on: 2026-01-05
    valid_until: 2999-01-01
    statement: Key cache TTL 15 min, memory only, zeroised on shutdown
"""


def _render(results: ScanResults, name: str) -> bytes:
    return formatters()[name].render(results, RenderOptions())


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (Debian poppler-utils) is needed to read the PDF")
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def _control(document: dict[str, Any], framework: str, control: str) -> dict[str, Any]:
    (found,) = [
        c for c in document["controls"] if c["framework"] == framework and c["control"] == control
    ]
    return found


def _html_row(html: str, control: str) -> str:
    """The control-matrix row of `control` (a block headed by the bold control id)."""
    start = html.index(f'<p class="ch"><b>{control}</b>')
    return html[start : html.index("</div>", start)]


def _pdf_matrix(text: str, label: str) -> list[str]:
    """The lines of one framework's control matrix: from its heading (a line of its own, not
    the contents entry or the running header) to the next section's heading."""
    lines = text.splitlines()
    start = lines.index(f"Control matrix — {label}")
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith("Control matrix — ")),
        len(lines),
    )
    return lines[start:end]


def _pdf_row(matrix: list[str], control: str) -> str:
    """The first lines of a control's row; a long id wraps in its narrow column
    ("Art." above "32(1)(a)"), so the row starts at its first word."""
    first, *rest = control.split(" ", 1)
    start = next(i for i, line in enumerate(matrix) if re.match(rf"\s*{re.escape(first)}\s", line))
    row = "\n".join(matrix[start : start + 3])
    assert all(part in row for part in rest), row
    return row


@pytest.fixture(scope="module")
def design_cluster(start_cluster: ClusterFactory) -> Cluster:
    """The reference design (AES-256 pgcrypto columns, access log, sane logging) behind the
    strict TLS settings of the transport-compliant fixture: what a PostgreSQL-only scan can
    see of Art. 32(1)(a) and 3.5.1 passes, so only the storage evidence is missing."""
    design = Variant.from_dir(PG_VARIANTS / "column-design")
    tls = Variant.from_dir(PG_VARIANTS / "transport-compliant")
    ciphers = next(line for line in tls.settings.splitlines() if line.startswith("ssl_ciphers"))
    return start_cluster(
        Variant(
            name="design-strict-tls",
            settings=design.settings + "\n" + ciphers + "\n",
            hba=design.hba,
            seed_sql=design.seed_sql,
            tls=design.tls,
        )
    )


@pytest.fixture(scope="module")
def postgres_only(design_cluster: Cluster, monkeypatch_module: pytest.MonkeyPatch) -> ScanResults:
    config = config_for(
        design_cluster, name="pg-only", sensitive_columns="[users.email, users.phone]"
    )
    results, _ = run_scan(config, Path.cwd(), config_digest="sha256:" + "2" * 64)
    assert [t.status.value for t in results.targets] == ["scanned"]
    return results


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDITOR_TEST_PW", AUDITOR_PASSWORD)
        yield mp


def test_postgres_only_scan_leaves_storage_dependent_controls_partial(
    postgres_only: ScanResults, tmp_path: Path
) -> None:
    # Nothing that evidences these controls failed on the compliant server ...
    document = json.loads(_render(postgres_only, "json"))
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    for framework, control in (("gdpr", "Art. 32(1)(a)"), ("pci-dss-4.0.1", "3.5.1")):
        verdict = _control(document, framework, control)
        outcomes = [o["status"] for c in verdict["checks"] for o in c["outcomes"]]
        assert "fail" not in outcomes and "pass" in outcomes, json.dumps(verdict["checks"])
        # ... but no storage check ran, so the control is not proven: partial, with the gaps.
        assert verdict["status"] == "partial", verdict
        not_run = {g["check_id"] for g in verdict["not_assessed"] if g["status"] == "not_run"}
        assert not_run >= STORAGE_ENCRYPTION
        reason = next(
            g["reason"]
            for g in verdict["not_assessed"]
            if g["check_id"] == "storage.luks_data_directory"
        )
        assert reason == "did not run: it applies to host targets and none is in scope"
        assert verdict["targets"] == [
            {
                "target": "pg-only",
                "status": "pass",  # everything that ran on it passed
                "failing_checks": [],
                "waived_checks": [],
            }
        ]

    html = _render(postgres_only, "html").decode()
    for control in ("Art. 32(1)(a)", "3.5.1"):
        row = _html_row(html, control)
        assert '<span class="badge st-partial">partial</span>' in row
        assert "Not assessed:" in row
        assert "storage.aws_rds_encrypted: did not run: it applies to aws-rds targets" in row

    text = _pdf_text(_render(postgres_only, "pdf"), tmp_path)
    for label, control in (("GDPR 2016/679", "Art. 32(1)(a)"), ("PCI DSS 4.0.1", "3.5.1")):
        matrix = _pdf_matrix(text, label)
        row = _pdf_row(matrix, control)
        assert re.search(r"\bPARTIAL\b", row.splitlines()[0]), row
        matrix_text = "\n".join(matrix)
        assert "Not assessed:" in matrix_text and "storage.luks_data_directory" in matrix_text


def test_saved_results_re_render_the_same_verdicts(postgres_only: ScanResults) -> None:
    """`auditor report RESULTS.json`: the derived controls list is recomputed, identically."""
    written = _render(postgres_only, "json")
    reloaded = results_from_dict(json.loads(written))
    assert _render(reloaded, "json") == written
    # A file written before the controls list existed still loads and gains it.
    old = json.loads(written)
    del old["controls"]
    assert (
        json.loads(_render(results_from_dict(old), "json"))["controls"]
        == json.loads(written)["controls"]
    )


def test_a_control_failing_on_one_target_names_it(
    compliant_cluster: Cluster, weak_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDITOR_TEST_PW", AUDITOR_PASSWORD)
    password = "{env: AUDITOR_TEST_PW}"
    text = (
        "targets:\n"
        + target_yaml("good-db", compliant_cluster.dsn("auditor"), password=password)
        + target_yaml("weak-db", weak_cluster.dsn("auditor"), password=password)
    )
    from auditor.config import parse_config

    results, _ = run_scan(parse_config(text, "two.yaml"), Path.cwd())
    weak_fails = {
        f.check_id for f in results.findings if f.target == "weak-db" and f.status is Status.FAIL
    }
    assert "auth.password_encryption" in weak_fails
    assert not any(
        f.status is Status.FAIL and f.check_id == "auth.password_encryption"
        for f in results.findings
        if f.target == "good-db"
    )

    document = json.loads(_render(results, "json"))
    verdict = _control(document, "pci-dss-4.0.1", "8.3.2")
    assert verdict["status"] == "fail"
    by_target = {t["target"]: t for t in verdict["targets"]}
    assert by_target["weak-db"]["status"] == "fail"
    assert "auth.password_encryption" in by_target["weak-db"]["failing_checks"]
    assert by_target["good-db"]["failing_checks"] == []
    assert by_target["good-db"]["status"] != "fail"
    check = next(c for c in verdict["checks"] if c["check_id"] == "auth.password_encryption")
    assert {o["target"]: o["status"] for o in check["outcomes"]} == {
        "good-db": "pass",
        "weak-db": "fail",
    }

    row = _html_row(_render(results, "html").decode(), "8.3.2")
    assert "Fails on weak-db: " in row and "auth.password_encryption" in row
    assert "Fails on good-db" not in row
    assert "auth.password_encryption: good-db: pass · weak-db: fail" in row

    terminal = _render(results, "terminal").decode()
    line = next(x for x in terminal.splitlines() if x.strip().startswith("FAIL") and " 8.3.2 " in x)
    assert "fails on weak-db: auth.password_encryption" in line
    assert "fails on good-db" not in line


def test_an_attested_manual_check_reads_the_same_everywhere(postgres_only: ScanResults) -> None:
    results = apply_waivers(postgres_only, parse_waivers(ATTESTATION))
    (cache,) = [f for f in results.findings if f.check_id == "keys.application_key_cache"]
    assert cache.status is Status.MANUAL

    terminal = _render(results, "terminal").decode()
    (line,) = [x for x in terminal.splitlines() if "keys.application_key_cache" in x]
    assert line.startswith("MANUAL ") and "(attested)" in line

    document = json.loads(_render(results, "json"))
    (finding,) = [f for f in document["findings"] if f["check_id"] == "keys.application_key_cache"]
    assert finding["status"] == "manual" and "attestation" in finding["evidence"]
    verdict = _control(document, "pci-dss-4.0.1", "3.6.1")
    (check,) = [c for c in verdict["checks"] if c["check_id"] == "keys.application_key_cache"]
    assert check["outcomes"] == [
        {"target": "pg-only", "status": "manual", "attested": True, "results": 1}
    ]
    # Attested counts as proven: the control is not left waiting for a person.
    assert verdict["status"] != "manual"

    html = _render(results, "html").decode()
    assert "keys.application_key_cache: pg-only: manual (attested)" in _html_row(html, "3.6.1")
    attested_cell = html[html.index("Manual checks and attestations") :]
    attested_cell = attested_cell[: attested_cell.index("</table>")]
    assert '<span class="badge st-manual">manual</span> <b>attested:</b>' in attested_cell
    assert "st-pass" not in attested_cell

    # Without the attestation the same check still waits for a person, in every output.
    plain = json.loads(_render(postgres_only, "json"))
    (check,) = [
        c
        for c in _control(plain, "pci-dss-4.0.1", "3.6.1")["checks"]
        if c["check_id"] == "keys.application_key_cache"
    ]
    assert check["outcomes"][0]["attested"] is False
    (line,) = [
        x
        for x in _render(postgres_only, "terminal").decode().splitlines()
        if "keys.application_key_cache" in x
    ]
    assert line.startswith("MANUAL ") and "(attested)" not in line
