"""Expected vs actual on real clusters: every verdict of a check judged against a policy value
records the policy value and what was observed, on a compliant and on a weak server, and the
HTML, CSV and JSON outputs show them."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.formatters.base import RenderOptions, formatters
from auditor.lab.cluster import Cluster
from auditor.model import Result, ScanResults, Status
from auditor.runner import run_scan
from tests.conftest import AUDITOR_PASSWORD, config_for

# Checks judged against a policy value on a PostgreSQL target.
POLICY_CHECKS = (
    "auth.password_encryption",
    "auth.hba_strong_methods",
    "transport.tls_min_version",
    "transport.cipher_suites",
    "transport.certificate_expiry",
    "transport.certificate_strength",
)


@pytest.fixture(scope="module")
def password() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDITOR_TEST_PW", AUDITOR_PASSWORD)
        yield


@pytest.fixture(scope="module")
def good(compliant_cluster: Cluster, password: None) -> ScanResults:
    results, _ = run_scan(config_for(compliant_cluster, name="good"), Path.cwd())
    return results


@pytest.fixture(scope="module")
def weak(weak_cluster: Cluster, password: None) -> ScanResults:
    results, _ = run_scan(config_for(weak_cluster, name="weak"), Path.cwd())
    return results


def _verdicts(results: ScanResults) -> list[Result]:
    return [
        f
        for f in results.findings
        if f.check_id in POLICY_CHECKS and f.status in (Status.PASS, Status.FAIL)
    ]


def test_each_policy_verdict_records_expected_and_actual_on_both_sides(
    good: ScanResults, weak: ScanResults
) -> None:
    for results in (good, weak):
        verdicts = _verdicts(results)
        assert {f.check_id for f in verdicts} >= {
            "auth.password_encryption",
            "transport.tls_min_version",
            "transport.certificate_strength",
        }
        for f in verdicts:
            compare = f.evidence.get("expected_vs_actual")
            assert isinstance(compare, dict) and compare["expected"], f
            assert compare.get("actual") not in (None, "", []), f
    good_passed = {f.check_id for f in _verdicts(good) if f.status is Status.PASS}
    assert {"auth.password_encryption", "transport.certificate_strength"} <= good_passed
    weak_failed = {f.check_id: f for f in _verdicts(weak) if f.status is Status.FAIL}
    assert "auth.password_encryption" in weak_failed
    assert weak_failed["auth.password_encryption"].evidence["expected_vs_actual"] == {
        "expected": "scram-sha-256",
        "actual": "md5",
    }
    strength = next(f for f in _verdicts(good) if f.check_id == "transport.certificate_strength")
    expected = strength.evidence["expected_vs_actual"]
    assert "RSA keys of 2048+ bits" in expected["expected"]
    assert any(" bits, " in line for line in expected["actual"])


def test_html_and_csv_show_expected_and_actual(weak: ScanResults) -> None:
    html = formatters()["html"].render(weak, RenderOptions()).decode()
    failed = [f for f in _verdicts(weak) if f.status is Status.FAIL]
    assert failed
    for f in failed:
        assert f"(expected {f.evidence['expected_vs_actual']['expected']}, observed" in html
    rows = list(
        csv.DictReader(io.StringIO(formatters()["csv"].render(weak, RenderOptions()).decode()))
    )
    row = next(r for r in rows if r["check_id"] == "auth.password_encryption")
    assert (row["expected"], row["actual"]) == ("scram-sha-256", "md5")
    assert all(r["expected"] == "" for r in rows if r["status"] in ("skip", "error"))
