"""Offline verdicts: each sample pg_hba file fails exactly the checks it should, on the
right lines, and the compliant and fully shadowed samples pass every auth.hba_* check."""

from __future__ import annotations

import json

import pytest

from auditor.model import Severity, Status
from tests.auth.conftest import HBA_CHECKS, HBA_FIXTURES, evaluate_file

# file -> {check id: failing line numbers}; every other hba check must pass.
EXPECTED: dict[str, dict[str, list[int]]] = {
    "compliant.conf": {},
    "shadowed.conf": {},
    "md5.conf": {"auth.hba_strong_methods": [2]},
    "password.conf": {"auth.hba_strong_methods": [2]},
    "ident.conf": {"auth.hba_strong_methods": [2]},
    "trust.conf": {"auth.hba_no_trust": [1], "auth.hba_strong_methods": [1]},
    "local-trust.conf": {"auth.hba_no_trust": [2], "auth.hba_strong_methods": [2]},
    "plain-host.conf": {"auth.hba_hostssl_only": [2]},
    "open-network.conf": {"auth.hba_network_scope": [1]},
    "remote-superuser.conf": {"auth.hba_remote_superuser": [1]},
    "partly-shadowed.conf": {"auth.hba_hostssl_only": [3], "auth.hba_strong_methods": [3]},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_fails_exactly_the_expected_checks(name: str) -> None:
    path = HBA_FIXTURES / name
    results = evaluate_file(path)
    for check_id in HBA_CHECKS:
        mine = [r for r in results if r.check_id == check_id]
        want = EXPECTED[name].get(check_id, [])
        failed = sorted(
            int(r.resource.rsplit(":", 1)[1])
            for r in mine
            if r.status is Status.FAIL and r.resource
        )
        assert failed == want, (check_id, [r.message for r in mine])
        if not want:
            assert [r.status for r in mine] == [Status.PASS], (check_id, mine)
        for r in mine:
            if r.status is Status.FAIL:
                assert r.resource and r.resource.startswith(f"{path}:")
                assert r.evidence["location"] == r.resource
                assert r.message.startswith(r.resource)


def test_local_trust_is_reported_low_and_tcp_trust_critical() -> None:
    local = [
        r
        for r in evaluate_file(HBA_FIXTURES / "local-trust.conf")
        if r.check_id == "auth.hba_no_trust"
    ]
    tcp = [
        r for r in evaluate_file(HBA_FIXTURES / "trust.conf") if r.check_id == "auth.hba_no_trust"
    ]
    assert [r.severity for r in local] == [Severity.LOW]
    assert [r.severity for r in tcp] == [Severity.CRITICAL]


def test_partly_shadowed_rule_cites_only_what_still_reaches_it() -> None:
    path = HBA_FIXTURES / "partly-shadowed.conf"
    [fail] = [
        r
        for r in evaluate_file(path)
        if r.check_id == "auth.hba_hostssl_only" and r.status is Status.FAIL
    ]
    assert "10.1.0.0/16" not in fail.evidence["reaches"]
    assert "10.0.0.0/16" in fail.evidence["reaches"]
    assert fail.evidence["narrowed_by"] == [f"{path}:2"]


def test_offline_superuser_assumption_is_stated() -> None:
    [fail] = [
        r
        for r in evaluate_file(HBA_FIXTURES / "remote-superuser.conf")
        if r.check_id == "auth.hba_remote_superuser" and r.status is Status.FAIL
    ]
    assert fail.evidence["superusers"] == ["postgres"]
    assert "assumed" in fail.evidence["assumption"]
    assert "10.99.0.0/24" in fail.message


def test_invalid_line_is_an_error_with_its_location_and_the_rest_is_judged() -> None:
    path = HBA_FIXTURES / "invalid.conf"
    results = evaluate_file(path)
    for check_id in HBA_CHECKS:
        errors = [r for r in results if r.check_id == check_id and r.status is Status.ERROR]
        assert len(errors) == 1
        assert errors[0].resource == f"{path}:2"
        assert 'invalid CIDR mask in address "10.20.0.0/33"' in errors[0].message
    weak = {
        r.resource
        for r in results
        if r.check_id == "auth.hba_strong_methods" and r.status is Status.FAIL
    }
    assert weak == {f"{path}:3"}


def test_included_files_are_judged_with_their_own_file_and_line() -> None:
    root = HBA_FIXTURES / "includes"
    results = evaluate_file(root / "pg_hba.conf")
    weak = [
        r for r in results if r.check_id == "auth.hba_strong_methods" and r.status is Status.FAIL
    ]
    # The md5 rule lives in conf.d/20-legacy.conf; the trust lines in .hidden.conf and
    # ignored.txt are not included (PostgreSQL skips them too).
    assert [r.resource for r in weak] == [f"{root / 'conf.d' / '20-legacy.conf'}:1"]
    assert {r.status for r in results if r.check_id == "auth.hba_no_trust"} == {Status.PASS}


def test_saved_facts_bundle_gives_the_same_verdicts_offline() -> None:
    from auditor.collectors.hba_file import HbaFileFacts
    from auditor.facts import Facts, TargetContext
    from auditor.pghba.parser import parse_file
    from auditor.runner import evaluate
    from tests.auth.conftest import checks

    context = TargetContext(name="offline", kind="postgres")
    facts = Facts(target=context)
    facts.add(HbaFileFacts(rules=parse_file(HBA_FIXTURES / "syntax-tour" / "pg_hba.conf")))
    saved = json.loads(json.dumps(facts.to_json()))
    assert "not-a-real-secret" not in json.dumps(saved)
    again = Facts.from_json(saved, context)
    assert [(r.check_id, r.status, r.resource, r.message) for r in evaluate(again, checks())] == [
        (r.check_id, r.status, r.resource, r.message) for r in evaluate(facts, checks())
    ]
