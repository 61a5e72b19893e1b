"""The report model: control roll-up rules, layers, targets and grouping of findings."""

from __future__ import annotations

import pytest

from auditor.frameworks import FrameworkError
from auditor.model import Result, Severity, Status
from auditor.report_model import (
    ATTESTATION_KEY,
    ControlStatus,
    FrameworkView,
    Report,
    build_report,
    evidence_lines,
    roll_up,
)
from auditor.waivers import apply_waivers, parse_waivers
from tests.report.sample import WAIVERS_YAML, sample_results


def _res(status: Status, evidence: dict[str, object] | None = None) -> Result:
    return Result(
        "transport.ssl_enabled", "db", status, Severity.HIGH, "t", "m", evidence=evidence or {}
    )


def _view(report: Report, framework_id: str) -> FrameworkView:
    return next(v for v in report.frameworks if v.framework.id == framework_id)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([Status.PASS, Status.MANUAL, Status.FAIL], ControlStatus.FAIL),
        ([Status.PASS, Status.MANUAL], ControlStatus.MANUAL),
        # One resource proven, another skipped: not proven, but not nothing either.
        ([Status.PASS, Status.SKIP], ControlStatus.PARTIAL),
        ([Status.SKIP, Status.SKIP], ControlStatus.NOT_ASSESSED),
        ([Status.ERROR], ControlStatus.NOT_ASSESSED),
        ([], ControlStatus.NOT_ASSESSED),
        ([Status.PASS, Status.ERROR, Status.MANUAL], ControlStatus.PARTIAL),
        ([Status.FAIL, Status.ERROR], ControlStatus.FAIL),
        # A waiver accepts the risk of a failure; it does not prove the control.
        ([Status.PASS, Status.WAIVED], ControlStatus.FAIL),
        ([Status.WAIVED, Status.MANUAL], ControlStatus.FAIL),
        ([Status.PASS, Status.PASS], ControlStatus.PASS),
    ],
)
def test_roll_up_order(statuses: list[Status], expected: ControlStatus) -> None:
    assert roll_up(_res(s) for s in statuses) is expected


def test_an_attested_manual_result_counts_as_met() -> None:
    attested = _res(Status.MANUAL, {ATTESTATION_KEY: {"attested_by": "x"}})
    assert roll_up([attested, _res(Status.PASS)]) is ControlStatus.PASS
    assert roll_up([_res(Status.MANUAL), _res(Status.PASS)]) is ControlStatus.MANUAL


def test_control_rows_name_failing_targets_and_what_was_not_assessed() -> None:
    report = build_report(sample_results())
    pci4 = _view(report, "pci-dss-4.0.1")
    rows = {r.control.id: r for r in pci4.rows}
    # 4.2.1: tls_min_version and cipher_suites fail on app-db only; legacy-db could not be
    # scanned, so nothing is proven there and its errors are listed as not assessed.
    row = rows["4.2.1"]
    assert row.status is ControlStatus.FAIL
    assert [(t.target, t.status, t.failing_checks) for t in row.targets] == [
        ("app-db", ControlStatus.FAIL, ("transport.tls_min_version", "transport.cipher_suites")),
        ("legacy-db", ControlStatus.NOT_ASSESSED, ()),
    ]
    assert [t.target for t in row.failing_targets] == ["app-db"]
    # A waived failure still fails the control, named apart from the unwaived ones.
    waived = apply_waivers(sample_results(), parse_waivers(WAIVERS_YAML))
    (app,) = [
        t
        for t in {r.control.id: r for r in _view(build_report(waived), "pci-dss-4.0.1").rows}[
            "8.3.2"
        ].targets
        if t.target == "app-db"
    ]
    assert app.status is ControlStatus.FAIL
    assert app.failing_checks == ("auth.hba_strong_methods",)
    assert app.waived_checks == ("auth.password_encryption",)
    assert app.text == "auth.hba_strong_methods (waived: auth.password_encryption)"
    gaps = {(g.check_id, g.target, g.status) for g in row.not_assessed}
    assert ("transport.ssl_enabled", "legacy-db", "error") in gaps
    assert ("transport.tls13_supported", None, "not_run") in gaps
    checks = {e.check_id: e for e in row.checks}
    assert checks["transport.ssl_enabled"].label == "app-db: pass · legacy-db: error"
    # 10.2.2 rests on the access-log check alone, which passed.
    assert rows["10.2.2"].status is ControlStatus.PASS
    assert rows["10.2.2"].not_assessed == ()
    # 3.7.4: none of its checks produced a result; the reason names the platforms.
    assert rows["3.7.4"].status is ControlStatus.NOT_ASSESSED
    reasons = {g.check_id: g.reason for g in rows["3.7.4"].not_assessed}
    assert set(reasons) == {
        "keys.secret_rotation_age",
        "keys.auto_rotation_enabled",
        "keys.kms_key_rotation",
    }
    assert "aws-rds" in reasons["keys.kms_key_rotation"]
    assert "none is in scope" in reasons["keys.kms_key_rotation"]
    # 3.6.1: the manual key-cache check waits for a person, but key_in_logs and the function
    # privileges check did not run, so the missing evidence is what the row says.
    assert rows["3.6.1"].status is ControlStatus.PARTIAL
    gdpr = {r.control.id: r for r in _view(report, "gdpr").rows}
    # A control no check can evidence is manual, not silently passed.
    assert gdpr["Art. 32(1)(d)"].status is ControlStatus.MANUAL
    assert gdpr["Art. 30"].status is ControlStatus.MANUAL


def test_platform_alternatives_are_not_gaps_when_one_of_them_ran() -> None:
    report = build_report(sample_results())
    gdpr = {r.control.id: r for r in _view(report, "gdpr").rows}
    row = gdpr["Art. 32(1)(a)"]
    checks = {e.check_id: e for e in row.checks}
    # LUKS ran (and errored) on the sample's host: the RDS, Azure and Cloud SQL checks do not
    # apply, and are shown as such; the LUKS error itself is a gap.
    assert checks["storage.aws_rds_encrypted"].excused
    assert "storage.luks_data_directory" in (checks["storage.aws_rds_encrypted"].excused or "")
    assert checks["storage.aws_rds_encrypted"].label == "not applicable (other platform)"
    gaps = {g.check_id for g in row.not_assessed}
    assert "storage.luks_data_directory" in gaps
    assert not gaps & {"storage.aws_rds_encrypted", "storage.gcp_cloudsql_encrypted"}


def test_layers_targets_and_findings_groups() -> None:
    report = build_report(sample_results())
    layers = {g.key: g for g in report.layers}
    assert list(layers) == ["transport", "auth", "column", "audit", "storage", "keys"]
    assert layers["column"].status is ControlStatus.FAIL
    assert layers["keys"].status is ControlStatus.MANUAL
    assert layers["storage"].status is ControlStatus.NOT_ASSESSED
    targets = {g.key: g for g in report.targets}
    assert targets["legacy-db"].status is ControlStatus.NOT_ASSESSED
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


def test_a_failure_on_an_unlisted_target_still_fails_its_controls() -> None:
    from dataclasses import replace

    results = sample_results()
    (tls,) = [f for f in results.findings if f.check_id == "transport.tls_min_version"]
    stray = replace(tls, target="not-in-targets")
    assert stray.status is Status.FAIL
    report = build_report(replace(results, findings=(*results.findings, stray)))
    row = {r.control.id: r for r in _view(report, "pci-dss-4.0.1").rows}["4.2.1"]
    assert "not-in-targets" in {t.target for t in row.failing_targets}
