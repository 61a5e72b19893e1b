"""First-match semantics: which rules stay reachable, for which addresses and which roles."""

from __future__ import annotations

from pathlib import Path

from auditor.pghba.parser import parse_text
from auditor.pghba.semantics import reach

HBA = Path("/etc/postgresql/pg_hba.conf")


def _reach(
    text: str, user: str | None = None, groups: dict[str, tuple[str, ...]] | None = None
) -> dict[int, tuple[bool, bool]]:
    rules = parse_text(text, HBA).rules
    return {r.rule.line: (r.reachable, r.remote) for r in reach(rules, user, groups)}


def test_earlier_rule_decides_whatever_its_method() -> None:
    got = _reach(
        "hostssl all all 0.0.0.0/0 scram-sha-256\n"
        "hostssl all all 10.0.0.0/8 md5\n"  # decided by line 1 (same type)
        "host all all 10.0.0.0/8 md5\n"
    )  # non-TLS connections still reach it
    assert got == {1: (True, True), 2: (False, False), 3: (True, True)}


def test_narrower_identity_does_not_shadow() -> None:
    got = _reach(
        "host app all 0.0.0.0/0 reject\n"
        "host all app 0.0.0.0/0 reject\n"
        "host all all 10.0.0.0/8 md5\n"
        "host replication all 10.1.0.0/16 md5\n"
        "host all all all reject\n"
        "host replication all 10.0.0.0/8 md5\n"
    )  # `all` never covers replication
    assert got[3] == (True, True) and got[4] == (True, True) and got[6] == (True, True)


def test_loopback_and_samehost_are_not_remote() -> None:
    got = _reach(
        "host all all 127.0.0.0/8 md5\nhost all all ::1/128 md5\n"
        "host all all samehost md5\nhost all all localhost md5\n"
        "host all all samenet md5\nhost all all 127.0.0.1 0.0.0.0 md5\n"
    )
    assert got == {
        1: (True, False),
        2: (True, False),
        3: (True, False),
        4: (True, False),
        5: (True, True),
        6: (True, True),
    }


def test_host_names_are_only_decided_by_rules_covering_every_address() -> None:
    got = _reach(
        "host all all 0.0.0.0/0 reject\nhost all all .example.com md5\n"
        "host all all ::/0 reject\nhost all all db.example.com md5\n"
    )
    assert got[2] == (True, True) and got[4] == (False, False)


def test_local_rules_are_judged_apart_from_tcp_rules() -> None:
    got = _reach("host all all all reject\nlocal all all trust\nlocal all all peer\n")
    assert got[2] == (True, False) and got[3] == (False, False)


def test_per_user_view_follows_role_specific_rejects_and_groups() -> None:
    text = (
        "host all postgres all reject\n"
        "hostssl all +admins 0.0.0.0/0 scram-sha-256\n"
        "hostssl all all 0.0.0.0/0 scram-sha-256\n"
    )
    assert _reach(text, "postgres") == {1: (True, True), 2: (False, False), 3: (False, False)}
    groups: dict[str, tuple[str, ...]] = {"alice": ("ops",), "ops": ("admins",)}
    assert _reach(text, "alice", groups) == {1: (False, False), 2: (True, True), 3: (False, False)}
    assert _reach(text, "bob", groups)[3] == (True, True)
