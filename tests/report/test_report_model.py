"""The report model: control roll-up rules, layers, targets and grouping of findings."""

from __future__ import annotations

import pytest

from auditor.frameworks import FrameworkError
from auditor.model import Result, Severity, Status
from auditor.report_model import (
    ATTESTATION_KEY,
    ControlStatus,
    build_report,
    evidence_lines,
    roll_up,
)
from tests.report.sample import sample_results


def _res(status: Status, evidence: dict[str, object] | None = None) -> Result:
    return Result(
        "transport.ssl_enabled", "db", status, Severity.HIGH, "t", "m", evidence=evidence or {}
    )


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([Status.PASS, Status.MANUAL, Status.FAIL], ControlStatus.FAIL),
        ([Status.PASS, Status.MANUAL], ControlStatus.MANUAL),
        ([Status.PASS, Status.SKIP], ControlStatus.PASS),
        ([Status.SKIP, Status.SKIP], ControlStatus.NOT_ASSESSED),
        ([], ControlStatus.NOT_ASSESSED),
        ([Status.PASS, Status.ERROR, Status.MANUAL], ControlStatus.ERROR),
        ([Status.FAIL, Status.ERROR], ControlStatus.FAIL),
        ([Status.PASS, Status.WAIVED], ControlStatus.WAIVED),
        ([Status.WAIVED, Status.MANUAL], ControlStatus.MANUAL),
    ],
)
def test_roll_up_order(statuses: list[Status], expected: ControlStatus) -> None:
    assert roll_up(_res(s) for s in statuses) is expected


def test_an_attested_manual_result_counts_as_met() -> None:
    attested = _res(Status.MANUAL, {ATTESTATION_KEY: {"attested_by": "x"}})
    assert roll_up([attested, _res(Status.PASS)]) is ControlStatus.PASS
    assert roll_up([_res(Status.MANUAL), _res(Status.PASS)]) is ControlStatus.MANUAL


def test_control_rows_roll_up_their_own_checks_per_target() -> None:
    report = build_report(sample_results())
    pci4 = next(v for v in report.frameworks if v.framework.id == "pci-dss-4.0.1")
    rows = {r.control.id: r for r in pci4.rows}
    # 4.2.1: tls_min_version fails on app-db; legacy-db could not be scanned at all.
    assert rows["4.2.1"].status is ControlStatus.FAIL
    assert rows["4.2.1"].by_target == {
        "app-db": ControlStatus.FAIL,
        "legacy-db": ControlStatus.ERROR,
    }
    assert rows["4.2.1"].by_check["transport.tls13_supported"] is ControlStatus.NOT_ASSESSED
    # 10.2.2 rests on the access-log check alone, which passed.
    assert rows["10.2.2"].status is ControlStatus.PASS
    # 3.7.4: none of its checks produced a result.
    assert rows["3.7.4"].status is ControlStatus.NOT_ASSESSED
    assert set(rows["3.7.4"].unevaluated_checks) == {
        "keys.secret_rotation_age",
        "keys.auto_rotation_enabled",
        "keys.kms_key_rotation",
    }
    # 3.6.1 includes the manual key-cache check (not attested in the bare sample).
    assert rows["3.6.1"].status is ControlStatus.MANUAL
    gdpr = next(v for v in report.frameworks if v.framework.id == "gdpr")
    # A control no check can evidence is manual, not silently passed.
    assert {r.control.id: r.status for r in gdpr.rows}["Art. 32(1)(d)"] is ControlStatus.MANUAL


def test_layers_targets_and_findings_groups() -> None:
    report = build_report(sample_results())
    layers = {g.key: g for g in report.layers}
    assert list(layers) == ["transport", "auth", "column", "audit", "storage", "keys"]
    assert layers["column"].status is ControlStatus.FAIL
    assert layers["keys"].status is ControlStatus.MANUAL
    assert layers["storage"].status is ControlStatus.ERROR
    targets = {g.key: g for g in report.targets}
    assert targets["legacy-db"].status is ControlStatus.ERROR
    assert targets["app-db"].counts["fail"] == 8
    severities = [g.severity for g in report.failures]
    assert severities == [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM]
    critical = report.failures[0]
    assert [c.check_id for c in critical.checks] == [
        "column.plaintext_pii",
        "column.sensitive_encrypted",
    ]
    assert "PCI DSS 4.0.1 3.5.1" in critical.checks[0].controls
    assert report.results_sha256 and len(report.evidence) == len(sample_results().findings)


def test_a_single_framework_report_shows_only_its_controls() -> None:
    report = build_report(sample_results(), "pci-dss-4.0.1")
    assert [v.framework.id for v in report.frameworks] == ["pci-dss-4.0.1"]
    labels = report.failures[0].checks[0].controls
    assert labels and all(label.startswith("PCI DSS 4.0.1 ") for label in labels)
    with pytest.raises(FrameworkError, match="unknown framework 'pci'"):
        build_report(sample_results(), "pci")


def test_evidence_lines_flatten_nested_evidence() -> None:
    lines = evidence_lines(
        {
            "ssl": {"value": "on", "source": "pg.conf:3"},
            "offenders": [{"suite": "A"}, {"suite": "B"}],
            "protocols": ["TLSv1.2", "TLSv1.3"],
            "ok": True,
            "none": None,
        }
    )
    assert lines == [
        ("ssl.value", "on"),
        ("ssl.source", "pg.conf:3"),
        ("offenders[0].suite", "A"),
        ("offenders[1].suite", "B"),
        ("protocols", "TLSv1.2, TLSv1.3"),
        ("ok", "true"),
        ("none", "null"),
    ]


def test_long_evidence_is_cut_in_listings_with_a_pointer_to_the_full_block() -> None:
    from auditor.report_model import evidence_text

    assert evidence_text({"a": 1, "b": [1, 2]}) == "a: 1 · b: 1, 2"
    text = evidence_text({"suites": ["TLS_X"] * 500}, limit=50)
    assert text.startswith("suites: TLS_X, TLS_X") and len(text) < 120
    assert text.endswith("more characters in results.json)")
