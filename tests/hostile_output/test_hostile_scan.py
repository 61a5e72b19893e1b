"""A real scan of a database whose object names are hostile, through every output format, and
resource names that cannot collide: `public."archive.customers".email` and
`archive.customers.email` are two resources, and a waiver for one never covers the other."""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from auditor.config import ConfigError, parse_config
from auditor.formatters.base import RenderOptions, formatters
from auditor.lab.cluster import ADMIN_PASSWORD, ADMIN_USER, Cluster, Variant
from auditor.model import ScanResults, Status
from auditor.output import write_outputs
from auditor.runner import run_scan
from auditor.waivers import apply_waivers, parse_waivers
from tests.conftest import ClusterFactory, target_yaml

ESC_TABLE = "t\x1b[2J\x1b[1;1H"
NL_COLUMN = "c\nFAIL     critical forged.check"
SEED = f"""
CREATE TABLE public."archive.customers" (email text);
CREATE SCHEMA archive;
CREATE TABLE archive.customers (email text);
CREATE TABLE public."Mixed.Case" ("E-Mail" text);
INSERT INTO public."archive.customers" SELECT 'a' || i || '@example.org'
  FROM generate_series(1, 20) i;
INSERT INTO archive.customers SELECT 'b' || i || '@example.org' FROM generate_series(1, 20) i;
INSERT INTO public."Mixed.Case" SELECT 'c' || i || '@example.org' FROM generate_series(1, 20) i;
CREATE SCHEMA "[/]";
CREATE TABLE "[/]"."{ESC_TABLE}" ("{NL_COLUMN}" text, "<script>x</script>" text,
                                  "[link=file:///etc/passwd]x[/link]" text);
INSERT INTO "[/]"."{ESC_TABLE}"
  SELECT 'd' || i || '@example.org', 'e' || i || '@example.org', 'f' || i || '@example.org'
  FROM generate_series(1, 20) i;
"""
COLUMN_CHECKS = {"column.sensitive_encrypted", "column.plaintext_pii"}


@pytest.fixture(scope="module")
def cluster(start_cluster: ClusterFactory) -> Cluster:
    return start_cluster(Variant(name="hostile-scan", seed_sql=SEED))


def _config_text(cluster: Cluster, columns: str) -> str:
    return "targets:\n" + target_yaml(
        "app\\e[31m[/]",
        cluster.dsn(ADMIN_USER),
        password="{env: HOSTILE_SCAN_PW}",
        sensitive_columns=columns,
    )


@pytest.fixture(scope="module")
def scanned(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> ScanResults:
    mp = pytest.MonkeyPatch()
    mp.setenv("HOSTILE_SCAN_PW", ADMIN_PASSWORD)
    try:
        text = _config_text(
            cluster,
            """['public."archive.customers".email', archive.customers.email,"""
            """ '"Mixed.Case"."E-Mail"']""",
        ).replace("name: app\\e[31m[/]", 'name: "app\\e[31m[/]"')
        config = parse_config(text, "auditor.yaml")
        results, _ = run_scan(config, tmp_path_factory.mktemp("scan"), check_ids=COLUMN_CHECKS)
    finally:
        mp.undo()
    return results


def _by_resource(results: ScanResults, check_id: str) -> dict[str, Status]:
    return {r.resource or "": r.status for r in results.findings if r.check_id == check_id}


def test_dotted_and_schema_qualified_tables_are_distinct_resources(
    scanned: ScanResults,
) -> None:
    declared = _by_resource(scanned, "column.sensitive_encrypted")
    assert declared == {
        '"archive.customers".email': Status.FAIL,
        "archive.customers.email": Status.FAIL,
        '"Mixed.Case"."E-Mail"': Status.FAIL,
    }


def test_a_waiver_covers_exactly_the_table_it_names(scanned: ScanResults) -> None:
    waivers = parse_waivers(
        "waivers:\n"
        "  - check: column.sensitive_encrypted\n"
        "    resource: archive.customers.*\n"
        "    reason: migration ticket 7\n"
        "    approved_by: CISO\n"
        "    expires: 2099-01-01\n"
    )
    waived = _by_resource(
        apply_waivers(scanned, waivers, dt.date(2026, 12, 1)), "column.sensitive_encrypted"
    )
    assert waived["archive.customers.email"] is Status.WAIVED
    assert waived['"archive.customers".email'] is Status.FAIL  # not covered by accident
    exact = parse_waivers(
        "waivers:\n"
        "  - check: column.sensitive_encrypted\n"
        "    resource: '\"archive.customers\".email'\n"
        "    reason: migration ticket 8\n"
        "    approved_by: CISO\n"
        "    expires: 2099-01-01\n"
    )
    waived = _by_resource(
        apply_waivers(scanned, exact, dt.date(2026, 12, 1)), "column.sensitive_encrypted"
    )
    assert waived['"archive.customers".email'] is Status.WAIVED
    assert waived["archive.customers.email"] is Status.FAIL


def test_hostile_table_and_column_names_through_every_format(
    scanned: ScanResults, tmp_path: Path
) -> None:
    pii = _by_resource(scanned, "column.plaintext_pii")
    hostile = [r for r in pii if r.startswith('"[/]"')]
    assert hostile, pii  # the hostile table was sampled and named
    chosen = [f for name, f in formatters().items() if name != "terminal"]
    written = write_outputs(scanned, chosen, tmp_path / "out", RenderOptions())
    by_suffix = {p.name: p for p in written}
    json.loads((tmp_path / "out" / "results.sarif").read_text())
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert any("<script>x</script>" in (f["resource"] or "") for f in results["findings"])
    ET.parse(tmp_path / "out" / "results.junit.xml")  # well-formed
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "\x1b" not in html
    assert (tmp_path / "out" / "report.pdf").read_bytes().startswith(b"%PDF")
    assert by_suffix
    for color in (False, True):
        text = formatters()["terminal"].render(scanned, RenderOptions(color=color)).decode()
        plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
        assert "\x1b" not in plain and "\r" not in plain
        assert "\\x1b[2J" in plain and "[/]" in plain
    lines = formatters()["terminal"].render(scanned, RenderOptions()).decode().split("\n")
    result_lines = [ln for ln in lines if re.match(r"(FAIL|ERROR|PASS|SKIP|WAIVED|MANUAL) ", ln)]
    assert len(result_lines) == len(scanned.findings)
    assert not any(ln.startswith("FAIL     critical forged") for ln in lines)


def test_config_accepts_quoted_parts_and_refuses_broken_ones(cluster: Cluster) -> None:
    parse_config(_config_text(cluster, """['"a.b"."C""d".e']"""), "ok.yaml")
    with pytest.raises(ConfigError, match="unterminated double quote"):
        parse_config(_config_text(cluster, """['"a.b.e']"""), "bad.yaml")
