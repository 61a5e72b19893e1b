"""Acceptance: one real scan of the weak fixture rendered in every format, citing the controls
of all four frameworks, with no secret and no raw sampled value in any output.

The weak fixture gets canaries on top (in its own cluster, so other tests' data is untouched):
a role with a known password and a table of plaintext personal data.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from auditor.formatters.base import RenderOptions, formatters
from auditor.lab.cluster import Cluster, Variant
from auditor.manifest import verify_report_dir, write_report_dir
from auditor.model import Status
from auditor.runner import run_scan
from auditor.waivers import apply_waivers, parse_waivers
from tests.conftest import AUDITOR_PASSWORD, FIXTURES, PG_VARIANTS, ClusterFactory, config_for

CANARY_PASSWORD = "Canary-Pw-9f3b1e77"
CANARY_KEY = "Canary-Key-5d20c4aa"
CANARY_VALUES = (
    "4111111111111111",
    "canary.person@example.org",
    "+15550000001",
    "user1@example.com",
    "user17@example.com",
)
CANARY_SQL = f"""
CREATE ROLE report_canary LOGIN PASSWORD '{CANARY_PASSWORD}';
CREATE TABLE customer_notes (id serial PRIMARY KEY, note text);
INSERT INTO customer_notes (note)
SELECT 'card 4111111111111111 for canary.person@example.org' FROM generate_series(1, 20);
GRANT SELECT ON customer_notes TO auditor;
CREATE FUNCTION canary_encrypt(p text) RETURNS bytea LANGUAGE plpgsql
AS $$ BEGIN RETURN pgp_sym_encrypt(p, '{CANARY_KEY}'); END $$;
"""
FORMATS = ("json", "html", "pdf", "sarif", "junit", "csv")


@pytest.fixture(scope="module")
def weak_with_canaries(start_cluster: ClusterFactory) -> Cluster:
    weak = Variant.from_dir(PG_VARIANTS / "weak")
    return start_cluster(
        Variant(
            name="weak-report",
            settings=weak.settings,
            hba=weak.hba,
            seed_sql=weak.seed_sql + CANARY_SQL,
            tls=weak.tls,
        )
    )


def _pdf_text(path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (Debian poppler-utils) is needed to read the PDF")
    return subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_weak_scan_renders_every_format_without_leaking(
    weak_with_canaries: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDITOR_TEST_PW", AUDITOR_PASSWORD)
    config = config_for(
        weak_with_canaries,
        name="weak-db",
        sensitive_columns="[users.email, users.phone, users.wallet_address]",
    )
    results, _ = run_scan(config, Path.cwd(), config_digest="sha256:" + "1" * 64)
    failed = {f.check_id for f in results.findings if f.status is Status.FAIL}
    assert {"auth.password_encryption", "audit.connection_logging"} <= failed
    # The canaries were really seen, so their absence below proves masking, not blindness.
    by_resource = {(f.check_id, f.resource): f for f in results.findings}
    notes = by_resource[("column.plaintext_pii", "customer_notes.note")]
    assert notes.status is Status.FAIL
    assert {p["kind"] for p in notes.evidence["pii"]} >= {"card_number", "email"}
    key_use = by_resource[("column.key_in_code", "function public.canary_encrypt(p text)")]
    assert key_use.status is Status.FAIL
    waivers = parse_waivers(
        "waivers:\n  - check: audit.connection_logging\n    reason: Logged by the proxy\n"
        "    approved_by: Jane Roe\n    expires: 2999-01-01\n"
    )
    results = apply_waivers(results, waivers)

    out = tmp_path / "report"
    write_report_dir(results, [formatters()[f] for f in FORMATS], out, RenderOptions())
    assert verify_report_dir(out).ok
    files = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(files) == {
        "results.json",
        "report.html",
        "report.pdf",
        "results.sarif",
        "results.junit.xml",
        "results.csv",
        "manifest.json",
    }
    texts = {name: data.decode("utf-8", "replace") for name, data in files.items()}
    texts["report.pdf (text)"] = _pdf_text(out / "report.pdf")
    sarif_schema = json.loads((FIXTURES / "sarif" / "sarif-2.1.0-rtm.5.json").read_text())
    jsonschema.Draft4Validator(sarif_schema).validate(json.loads(files["results.sarif"]))
    for name, text in texts.items():
        for secret in (
            CANARY_PASSWORD,
            CANARY_KEY,
            AUDITOR_PASSWORD,
            "app-test-pw",
            *CANARY_VALUES,
        ):
            assert secret not in text, f"{secret!r} leaked into {name}"

    for document in (texts["report.html"], texts["report.pdf (text)"]):
        for label, control in (
            ("GDPR 2016/679", "Art. 32(1)(a)"),
            ("HIPAA 45 CFR 164.312", "(e)(2)(ii)"),
            ("PCI DSS 3.2.1", "8.2.1"),
            ("PCI DSS 4.0.1", "8.3.2"),
            ("SOC 2 TSC 2017", "CC7.2"),
        ):
            assert f"Control matrix — {label}" in document and control in document
        # The failing check is cited with its controls and its evidence (setting + source).
        assert "HIPAA 45 CFR 164.312 (d)" in document
        assert "password_encryption.value: md5" in document
        assert "Logged by the proxy" in document
