"""First-match semantics: which rules stay reachable, for which addresses and which roles."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.pghba.parser import parse_text
from auditor.pghba.rules import HbaRule
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


# -- soundness against a brute-force simulation of PostgreSQL's first-match -------------------

_TYPES = ["host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc"]
_DBS = ["all", "app", "replication", "app,other", "sameuser"]
_USERS = ["all", "app", "postgres", "+grp", "app,postgres"]
_ADDRS = [
    "10.0.0.0/8",
    "10.1.0.0/16",
    "10.1.2.3/32",
    "0.0.0.0/0",
    "all",
    "::/0",
    "::1/128",
    "127.0.0.1/32",
    "192.168.0.0/16",
    "10.1.0.0 255.255.0.0",
]
_METHODS = ["scram-sha-256", "md5", "reject", "trust"]
_CONN_KINDS = {
    "host": {"ssl", "gss", "plain"},
    "hostssl": {"ssl"},
    "hostnossl": {"gss", "plain"},
    "hostgssenc": {"gss"},
    "hostnogssenc": {"ssl", "plain"},
}
_GROUPS: dict[str, tuple[str, ...]] = {"app": ("grp",)}
_IPS = [
    "10.1.2.3",
    "10.1.9.9",
    "10.200.0.1",
    "192.168.5.5",
    "127.0.0.1",
    "8.8.8.8",
    "::1",
    "2001:db8::1",
]


def _matches(rule: HbaRule, kind: str, db: str, user: str, ip: str) -> bool:
    if kind not in _CONN_KINDS[rule.type]:
        return False
    dbs = set(rule.databases)
    if not (
        ("all" in dbs and db != "replication") or db in dbs or ("sameuser" in dbs and db == user)
    ):
        return False
    if not (
        "all" in rule.users
        or user in rule.users
        or ("+grp" in rule.users and "grp" in _GROUPS.get(user, ()))
    ):
        return False
    assert rule.address is not None
    if rule.address == "all":
        return True
    return ipaddress.ip_address(ip) in ipaddress.ip_network(rule.address)


_RULE = st.builds(
    lambda t, d, u, a, m: f"{t} {d} {u} {a} {m}",
    st.sampled_from(_TYPES),
    st.sampled_from(_DBS),
    st.sampled_from(_USERS),
    st.sampled_from(_ADDRS),
    st.sampled_from(_METHODS),
)


@settings(max_examples=120, deadline=None)
@given(st.lists(_RULE, min_size=1, max_size=8))
def test_analysis_never_hides_a_rule_that_a_connection_reaches(lines: list[str]) -> None:
    rules = parse_text("\n".join(lines) + "\n", HBA).rules
    assert len(rules) == len(lines)
    overall = reach(rules)
    per_user = {u: reach(rules, u, _GROUPS) for u in ("app", "postgres", "other")}
    for kind in ("ssl", "gss", "plain"):
        for db in ("app", "other", "replication", "postgres"):
            for user in ("app", "postgres", "other"):
                for ip in _IPS:
                    first = next(
                        (i for i, rule in enumerate(rules) if _matches(rule, kind, db, user, ip)),
                        None,
                    )
                    if first is None:
                        continue
                    remote = ip not in ("127.0.0.1", "::1")
                    for view in (overall[first], per_user[user][first]):
                        assert view.reachable, (lines, kind, db, user, ip)
                        assert view.remote or not remote, (lines, kind, db, user, ip)
