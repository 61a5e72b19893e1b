"""Waivers and attestations: matching, expiry, what is kept, and file errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from auditor.model import Status
from auditor.report_model import (
    ATTESTATION_KEY,
    EXPIRED_ATTESTATION_KEY,
    EXPIRED_WAIVER_KEY,
    WAIVER_KEY,
)
from auditor.waivers import WaiverError, apply_waivers, load_waivers, parse_waivers
from tests.report.sample import WAIVERS_YAML, sample_results

TODAY = dt.date(2026, 11, 20)


def _find(results, check_id, target="app-db"):  # type: ignore[no-untyped-def]
    return next(r for r in results.findings if r.check_id == check_id and r.target == target)


def test_an_active_waiver_turns_the_failure_into_waived_and_keeps_the_rest() -> None:
    before = sample_results()
    after = apply_waivers(before, parse_waivers(WAIVERS_YAML), TODAY)
    original, waived = (
        _find(before, "auth.password_encryption"),
        _find(after, "auth.password_encryption"),
    )
    assert waived.status is Status.WAIVED
    assert (waived.severity, waived.message, waived.title) == (
        original.severity,
        original.message,
        original.title,
    )
    assert waived.evidence["password_encryption"] == original.evidence["password_encryption"]
    assert waived.evidence[WAIVER_KEY] == {
        "check": "auth.password_encryption",
        "target": "app-db",
        "resource": "*",
        "reason": "Legacy client needs md5 until the driver upgrade in ticket SEC-142",
        "approved_by": "Jane Roe (CISO)",
        "expires": "2027-01-31",
    }
    # The other target's result for the same check is not matched (target pattern).
    assert _find(after, "auth.password_encryption", "legacy-db").status is Status.ERROR
    # Only failures are waived: passes and errors are untouched.
    assert sum(r.status is Status.WAIVED for r in after.findings) == 1


def test_an_expired_waiver_stops_applying_and_is_recorded() -> None:
    after = apply_waivers(sample_results(), parse_waivers(WAIVERS_YAML), TODAY)
    scope = _find(after, "auth.hba_network_scope")
    assert scope.status is Status.FAIL
    assert scope.evidence[EXPIRED_WAIVER_KEY]["expires"] == "2026-10-31"
    # The same waiver file, read on a day it was still valid, waives it.
    earlier = apply_waivers(sample_results(), parse_waivers(WAIVERS_YAML), dt.date(2026, 10, 31))
    assert _find(earlier, "auth.hba_network_scope").status is Status.WAIVED


def test_patterns_must_match_target_and_resource() -> None:
    text = (
        "waivers:\n  - check: auth.*\n    target: app-*\n    resource: '*:3'\n"
        "    reason: r\n    approved_by: a\n    expires: 2030-01-01\n"
    )
    after = apply_waivers(sample_results(), parse_waivers(text), TODAY)
    # The hba failures are on line 2, not 3: nothing matches.
    assert _find(after, "auth.hba_strong_methods").status is Status.FAIL
    text = text.replace("'*:3'", "'*:2'")
    after = apply_waivers(sample_results(), parse_waivers(text), TODAY)
    assert _find(after, "auth.hba_strong_methods").status is Status.WAIVED
    assert _find(after, "auth.password_encryption").status is Status.FAIL  # resource None


def test_attestations_record_manual_checks_while_valid() -> None:
    after = apply_waivers(sample_results(), parse_waivers(WAIVERS_YAML), TODAY)
    cache = _find(after, "keys.application_key_cache")
    assert cache.status is Status.MANUAL
    assert cache.evidence[ATTESTATION_KEY]["attested_by"] == "John Doe (platform lead)"
    later = apply_waivers(sample_results(), parse_waivers(WAIVERS_YAML), dt.date(2027, 10, 2))
    stale = _find(later, "keys.application_key_cache")
    assert ATTESTATION_KEY not in stale.evidence
    assert stale.evidence[EXPIRED_ATTESTATION_KEY]["valid_until"] == "2027-10-01"


def test_today_defaults_to_the_day_the_scan_finished() -> None:
    results = sample_results()  # finished 2026-11-20: the second waiver had expired
    after = apply_waivers(results, parse_waivers(WAIVERS_YAML))
    assert _find(after, "auth.password_encryption").status is Status.WAIVED
    assert _find(after, "auth.hba_network_scope").status is Status.FAIL


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "waivers:\n  - check: auth.password_encryption\n    reason: r\n    approved_by: a\n",
            "w.yaml:2: waivers[0].expires: required key is missing",
        ),
        (
            "waivers:\n  - check: auth.x\n    reason: r\n    approved_by: a\n"
            "    expires: someday\n",
            "w.yaml:5: waivers[0].expires:",
        ),
        (
            "waivers:\n  - check: auth.x\n    reason: r\n    approved_by: a\n"
            "    expires: 2027-01-01\n    owner: me\n",
            "w.yaml:6: waivers[0].owner: unknown key",
        ),
        (
            "attestations:\n  - check: keys.x\n    attested_by: a\n    attested_on: 2027-01-02\n"
            "    valid_until: 2027-01-01\n    statement: s\n",
            "w.yaml:2: attestations[0]: valid_until is before attested_on",
        ),
        ("waivers: [\n", "w.yaml:2: invalid YAML"),
        ("", "w.yaml: the file is empty"),
    ],
)
def test_a_broken_waivers_file_names_file_line_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(text)
    with pytest.raises(WaiverError) as caught:
        load_waivers(path)
    assert str(caught.value) == f"{tmp_path}/{expected}" or expected in str(caught.value)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_a_missing_waivers_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(WaiverError, match=r"nope.yaml: waivers file not found$"):
        load_waivers(tmp_path / "nope.yaml")


# -- ticket, approval date and the policy's maximum duration (issue 14) -------------------

_BOUNDED = """\
waivers:
  - check: auth.password_encryption
    target: app-db
    reason: Legacy client needs md5 until the driver upgrade
    approved_by: Jane Roe (CISO)
    approved: 2026-11-01
    ticket: SEC-142
    expires: {expires}
"""


def test_ticket_and_approval_date_are_kept_in_the_results_json() -> None:
    import json

    from auditor.formatters.json_results import results_to_dict

    waivers = parse_waivers(_BOUNDED.format(expires="2027-01-31"), max_days=365, today=TODAY)
    after = apply_waivers(sample_results(), waivers, TODAY)
    waived = _find(after, "auth.password_encryption")
    assert waived.status is Status.WAIVED
    assert waived.evidence[WAIVER_KEY]["ticket"] == "SEC-142"
    assert waived.evidence[WAIVER_KEY]["approved"] == "2026-11-01"
    exported = json.dumps(results_to_dict(after))
    assert '"ticket": "SEC-142"' in exported and '"approved": "2026-11-01"' in exported


def test_a_waiver_longer_than_the_policy_allows_from_its_approval_is_an_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "w.yaml"
    # Exactly 365 days after approval: allowed; one more day: refused.
    path.write_text(_BOUNDED.format(expires="2027-11-01"))
    assert load_waivers(path, 365, TODAY).waivers[0].ticket == "SEC-142"
    path.write_text(_BOUNDED.format(expires="2027-11-02"))
    with pytest.raises(WaiverError) as caught:
        load_waivers(path, 365, TODAY)
    assert str(caught.value) == (
        f"{path}:8: waivers[0].expires: 2027-11-02 is more than 365 days after approved "
        "2026-11-01 (policy.waiver_max_days)"
    )
    # A looser policy accepts the same file.
    assert load_waivers(path, 400, TODAY).waivers[0].expires == dt.date(2027, 11, 2)


def test_without_an_approval_date_the_limit_counts_from_today(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(
        "waivers:\n  - check: auth.password_encryption\n    reason: r\n    approved_by: a\n"
        "    expires: 2099-01-01\n"
    )
    with pytest.raises(
        WaiverError,
        match=r"w.yaml:5: waivers\[0\].expires: 2099-01-01 is "
        r"more than 365 days after today \(2026-11-20\); add approved: DATE",
    ):
        load_waivers(path, 365, TODAY)
    path.write_text(path.read_text().replace("2099-01-01", "2027-06-01"))
    assert load_waivers(path, 365, TODAY).waivers[0].approved is None


def test_a_waiver_of_every_check_is_an_error_whatever_its_dates(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(
        "waivers:\n  - check: auth.password_encryption\n    reason: r\n    approved_by: a\n"
        "    expires: 2027-01-01\n"
        "  - check: '*'\n    reason: everything\n    approved_by: a\n    approved: 2026-11-01\n"
        "    expires: 2027-01-01\n"
    )
    with pytest.raises(WaiverError) as caught:
        load_waivers(path, 365, TODAY)
    assert str(caught.value) == (
        f"{path}:6: waivers[1].check: '*' waives every check; name a check id or a family "
        "(transport.*)"
    )
    # A family glob is a deliberate, bounded scope: accepted.
    path.write_text(path.read_text().replace("'*'", "'auth.*'"))
    assert len(load_waivers(path, 365, TODAY).waivers) == 2


def test_expiry_before_approval_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(_BOUNDED.format(expires="2026-10-01"))
    with pytest.raises(WaiverError, match=r"w.yaml:2: waivers\[0\]: expires is before approved"):
        load_waivers(path, 365, TODAY)


def test_html_and_csv_reports_show_ticket_and_approval_date() -> None:
    from auditor.formatters.base import RenderOptions, formatters

    waivers = parse_waivers(_BOUNDED.format(expires="2027-01-31"), max_days=365, today=TODAY)
    after = apply_waivers(sample_results(), waivers, TODAY)
    html = formatters()["html"].render(after, RenderOptions()).decode()
    assert "approved by Jane Roe (CISO) on 2026-11-01 (ticket SEC-142), expires 2027-01-31" in html
    csv = formatters()["csv"].render(after, RenderOptions()).decode()
    assert "approved by Jane Roe (CISO) on 2026-11-01, ticket SEC-142, expires 2027-01-31" in csv
