"""auth.* verdicts against real clusters: the compliant fixture passes, the weak one fails
each check on the right pg_hba line or role, and the live view and the parsed file agree."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.collectors.hba_file import HbaFileFacts
from auditor.collectors.pg.server import ServerFacts
from auditor.facts import Facts
from auditor.lab.cluster import ADMIN_PASSWORD, Cluster, free_port
from auditor.model import Result, Severity, Status, TargetStatus
from auditor.pghba.live import rules_from_view
from auditor.pghba.parser import parse_file
from auditor.runner import evaluate, run_scan
from tests.auth.conftest import AUTH_CHECKS, HBA_CHECKS, HBA_FIXTURES, checks
from tests.conftest import config_for

ADMIN_ENV = "AUDITOR_TEST_ADMIN_PW"


@pytest.fixture(autouse=True)
def _admin_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ADMIN_ENV, ADMIN_PASSWORD)


def scan(cluster: Cluster, user: str, hba_file: str | None = None) -> tuple[list[Result], Facts]:
    env = ADMIN_ENV if user == "postgres" else "AUDITOR_TEST_PW"
    extra = {"hba_file": hba_file} if hba_file else {}
    results, bundles = run_scan(
        config_for(cluster, user=user, env=env, **extra),
        cluster.datadir,
        check_ids=set(AUTH_CHECKS),
    )
    assert results.targets[0].status is TargetStatus.SCANNED, results.targets[0].error
    return list(results.findings), bundles[0]


def hba_line(cluster: Cluster, fragment: str) -> str:
    """file:line of the datadir pg_hba.conf line containing `fragment` (exactly one)."""
    path = cluster.datadir / "pg_hba.conf"
    hits = [n for n, line in enumerate(path.read_text().splitlines(), 1) if fragment in line]
    assert len(hits) == 1, (fragment, hits)
    return f"{path}:{hits[0]}"


def failed(results: list[Result], check_id: str) -> dict[str, Result]:
    return {
        r.resource or "": r for r in results if r.check_id == check_id and r.status is Status.FAIL
    }


def test_compliant_cluster_passes_every_auth_check(compliant_cluster: Cluster) -> None:
    results, _ = scan(compliant_cluster, "postgres")
    by_check = {c: [r.status for r in results if r.check_id == c] for c in AUTH_CHECKS}
    assert by_check == {c: [Status.PASS] for c in AUTH_CHECKS}


def test_weak_cluster_fails_each_check_on_the_right_rules(auth_weak_cluster: Cluster) -> None:
    c = auth_weak_cluster
    results, _ = scan(c, "postgres")
    md5_app = hba_line(c, "app                       127.0.0.1/32")
    md5_all, password = hba_line(c, "10.0.0.0/8"), hba_line(c, "192.168.0.0/16")
    open_app, remote_pg = hba_line(c, "0.0.0.0/0"), hba_line(c, "198.51.100.0/24")
    trust_tcp, trust_local = hba_line(c, "172.16.0.0/12"), hba_line(c, "local   all       all")
    assert set(failed(results, "auth.hba_hostssl_only")) == {md5_all, trust_tcp}
    no_trust = failed(results, "auth.hba_no_trust")
    assert {k: v.severity for k, v in no_trust.items()} == {
        trust_tcp: Severity.CRITICAL,
        trust_local: Severity.LOW,
    }
    assert set(failed(results, "auth.hba_strong_methods")) == {
        md5_app,
        md5_all,
        password,
        trust_tcp,
        trust_local,
    }
    assert "weak method password" in failed(results, "auth.hba_strong_methods")[password].message
    assert set(failed(results, "auth.hba_network_scope")) == {open_app}
    superuser = failed(results, "auth.hba_remote_superuser")
    assert set(superuser) == {md5_all, password, remote_pg, trust_tcp}
    assert superuser[remote_pg].evidence["superusers"] == ["postgres"]
    # The md5 rule behind the 203.0.113.0/24 reject can never match: never cited.
    shadowed = hba_line(c, "203.0.113.0/25")
    assert all(r.resource != shadowed for r in results)
    assert [r.status for r in results if r.check_id == "auth.password_encryption"] == [Status.FAIL]


def test_weak_cluster_names_md5_roles_and_passwordless_trust_logins(
    auth_weak_cluster: Cluster,
) -> None:
    results, _ = scan(auth_weak_cluster, "postgres")
    mine = [r for r in results if r.check_id == "auth.role_password_hashes"]
    hashes = {r.resource: r for r in mine if "stored_as" in r.evidence}
    assert set(hashes) == {"legacy", "legacy_group"}
    assert hashes["legacy"].message == "role legacy stores its password as md5, not SCRAM-SHA-256"
    assert hashes["legacy_group"].message.endswith("not SCRAM-SHA-256 (NOLOGIN for now)")
    assert hashes["legacy_group"].evidence["can_login"] is False
    trust = {r.resource: r for r in mine if "trust_rules" in r.evidence}
    # 172.16.0.0/12 trust admits every login role over TCP, with no password at all.
    assert set(trust) == {"auditor", "scanner", "postgres", "app", "legacy", "nopass"}
    trust_tcp = hba_line(auth_weak_cluster, "172.16.0.0/12")
    assert trust["nopass"].message.startswith(
        f"role nopass can log in with no password through trust rule {trust_tcp}"
    )
    assert trust["nopass"].status is Status.FAIL and trust["nopass"].severity is Severity.HIGH
    text = json.dumps([r.evidence for r in results]) + " ".join(r.message for r in results)
    for secret in ("auditor-test-pw", "legacy-test-pw", "legacy-group-test-pw", "app-test-pw",
                   ADMIN_PASSWORD):
        assert secret not in text
    assert "md5" + "0" * 4 not in text and "SCRAM-SHA-256$" not in text


def _verdicts(results: list[Result]) -> set[tuple[str, str, str, str | None, str]]:
    return {
        (
            r.check_id,
            r.status.value,
            r.severity.value,
            r.resource,
            r.message if r.status is not Status.PASS else "",
        )
        for r in results
    }


def _file_twin(facts: Facts, hba: Path) -> Facts:
    """The same facts, but with pg_hba known only from parsing the file on disk."""
    twin = Facts(target=facts.target)
    server = facts.get(ServerFacts)
    twin.add(server.model_copy(update={"hba_rules": None}))
    twin.add(HbaFileFacts(rules=parse_file(hba)))
    return twin


@pytest.mark.parametrize("variant", ["compliant", "auth-weak"])
def test_live_view_and_parsed_file_give_the_same_verdicts(
    start_cluster: object,
    variant: str,
) -> None:
    cluster = start_cluster(variant)  # type: ignore[operator]
    _, facts = scan(cluster, "postgres")
    live = evaluate(facts, checks(AUTH_CHECKS))
    offline = evaluate(_file_twin(facts, cluster.datadir / "pg_hba.conf"), checks(AUTH_CHECKS))
    assert any(r.status is Status.FAIL for r in live) == (variant == "auth-weak")
    assert _verdicts(live) == _verdicts(offline)


def test_role_without_the_grant_falls_back_to_the_hba_file(auth_weak_cluster: Cluster) -> None:
    c = auth_weak_cluster
    live, _ = scan(c, "auditor", hba_file="pg_hba.conf")
    offline, facts = scan(c, "scanner", hba_file="pg_hba.conf")
    assert facts.get(ServerFacts).hba_rules is None
    assert facts.get(HbaFileFacts).rules.path == str(c.datadir / "pg_hba.conf")
    keep = set(HBA_CHECKS)
    assert _verdicts([r for r in live if r.check_id in keep]) == _verdicts(
        [r for r in offline if r.check_id in keep]
    )


def test_without_view_or_file_checks_skip_with_the_grant(auth_weak_cluster: Cluster) -> None:
    results, _ = scan(auth_weak_cluster, "scanner")
    for check_id in HBA_CHECKS:
        [r] = [r for r in results if r.check_id == check_id]
        assert r.status is Status.SKIP
        assert "GRANT SELECT ON pg_catalog.pg_hba_file_rules TO scanner;" in r.message
        assert "hba_file" in r.message
    [hashes] = [r for r in results if r.check_id == "auth.role_password_hashes"]
    assert hashes.status is Status.SKIP and "superuser" in hashes.message


def test_unreadable_hba_file_is_an_error_naming_it(auth_weak_cluster: Cluster) -> None:
    results, _ = scan(auth_weak_cluster, "scanner", hba_file="missing/pg_hba.conf")
    missing = auth_weak_cluster.datadir / "missing" / "pg_hba.conf"
    for check_id in HBA_CHECKS:
        [r] = [r for r in results if r.check_id == check_id]
        assert r.status is Status.ERROR
        assert r.message == f"cannot read hba_file {missing}: No such file or directory"


def test_unreachable_server_still_gets_its_hba_file_judged(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    shutil.copy(HBA_FIXTURES / "md5.conf", tmp_path / "pg_hba.conf")
    monkeypatch.setenv("AUDITOR_TEST_PW", "x")
    from auditor.config import parse_config

    config = parse_config(
        "targets:\n  - name: offline\n"
        f"    dsn: postgresql://auditor@127.0.0.1:{free_port()}/app?connect_timeout=2\n"
        "    password: {env: AUDITOR_TEST_PW}\n    hba_file: pg_hba.conf\n",
        "offline.yaml",
    )
    results, _ = run_scan(config, tmp_path, check_ids=set(AUTH_CHECKS))
    assert results.targets[0].status is TargetStatus.UNREACHABLE
    by_check = {
        r.check_id: r
        for r in results.findings
        if r.check_id in HBA_CHECKS and r.status is not Status.PASS
    }
    assert set(by_check) == {"auth.hba_strong_methods"}
    assert by_check["auth.hba_strong_methods"].resource == f"{tmp_path / 'pg_hba.conf'}:2"
    pe = [r for r in results.findings if r.check_id == "auth.password_encryption"]
    assert [r.status for r in pe] == [Status.ERROR]


@pytest.fixture
def tour_installed(auth_weak_cluster: Cluster) -> Iterator[Path]:
    """The syntax tour as the cluster's pg_hba.conf on disk (not reloaded: logins keep
    working with the loaded rules, while pg_hba_file_rules reads the file as it is now)."""
    hba = auth_weak_cluster.datadir / "pg_hba.conf"
    original = hba.read_text()
    tour = HBA_FIXTURES / "syntax-tour"
    for name in ("admins.txt", "more.txt"):
        shutil.copy(tour / name, auth_weak_cluster.datadir / name)
    shutil.copy(tour / "pg_hba.conf", hba)
    try:
        yield hba
    finally:
        hba.write_text(original)


def test_parser_matches_pg_hba_file_rules_on_the_syntax_tour(
    auth_weak_cluster: Cluster,
    tour_installed: Path,
) -> None:
    _, facts = scan(auth_weak_cluster, "auditor")
    rows = facts.get(ServerFacts).hba_rules
    assert rows is not None
    from_server = rules_from_view(rows, str(tour_installed))
    from_file = parse_file(tour_installed)
    assert len(from_file.rules) >= 17
    assert [r.model_dump() for r in from_file.rules] == [r.model_dump() for r in from_server.rules]
    assert [p.location for p in from_file.problems] == [p.location for p in from_server.problems]
    assert [p.message for p in from_file.problems] == [p.message for p in from_server.problems]
    # The server shows ldapbindpasswd in clear; no verdict may carry it.
    results = evaluate(facts, checks(AUTH_CHECKS))
    assert any(r.status is Status.FAIL for r in results)
    text = json.dumps([[r.message, r.evidence] for r in results])
    assert "not-a-real-secret" not in text and "ldapbindpasswd=***" in text
