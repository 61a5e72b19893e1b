"""The pg_hba parser: what PostgreSQL accepts parses to the same rules, what it refuses becomes
a problem with file:line, nothing raises (hypothesis fuzzing), secrets never reach the model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.pghba.parser import parse_file, parse_text
from auditor.pghba.rules import CONNECTION_TYPES, HbaRuleSet
from auditor.pghba.tokenizer import MAX_TOKEN, ReadFailed
from tests.auth.conftest import HBA_FIXTURES

TOUR = HBA_FIXTURES / "syntax-tour" / "pg_hba.conf"
NOWHERE = Path("/nonexistent-auditor-dir/pg_hba.conf")


def _by_line(rules: HbaRuleSet) -> dict[int, str]:
    return {r.line: r.text() for r in rules.rules}


def test_syntax_tour_parses_like_the_server() -> None:
    found = parse_file(TOUR)
    lines = _by_line(found)
    assert lines[2] == "local all postgres peer"
    assert lines[3] == "local all all peer map=osusers"  # ident on a socket is peer
    assert lines[4] == (
        'hostssl all,sameuser,"db x" +admins,+lit,alice,bob,"carol x",dave 10.0.0.0/8 scram-sha-256'
    )
    assert lines[5] == "hostssl samegroup all 192.168.1.0/24 scram-sha-256"
    assert lines[7] == "hostssl all all ::1/128 cert clientcert=verify-full"
    assert lines[15] == "hostssl all all 10.7.0.0/16 scram-sha-256"  # continued line
    assert 16 not in lines and 16 not in {p.line for p in found.problems}
    assert lines[17] == 'host "abc de" "x""y" 127.0.0.1/32 md5'
    assert lines[19] == "hostssl all,x all 10.6.0.0/16 scram-sha-256"
    assert [(p.line, p.message) for p in found.problems] == [
        (18, "end-of-line before authentication method"),
    ]
    assert all(p.file == str(TOUR) for p in found.problems)


def test_credentials_in_options_are_masked_everywhere() -> None:
    found = parse_file(TOUR)
    assert "not-a-real-secret" not in json.dumps(found.model_dump(mode="json"))
    ldap = next(r for r in found.rules if r.method == "ldap")
    assert "ldapbindpasswd=***" in ldap.options
    assert "ldapbasedn=dc=example,dc=com" in ldap.options


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("bogus all all", 'invalid connection type "bogus"'),
        ("host all", "end-of-line before role specification"),
        ("host all all", "end-of-line before IP address specification"),
        ("host all all 10.0.0.1 md5", 'invalid IP mask "md5": Name or service not known'),
        ("host all all 10.0.0.1", "end-of-line before netmask specification"),
        ("host all all ::1 255.255.255.255 md5", "IP address and mask do not match"),
        (
            "host all all db.example.com/24 md5",
            'specifying both host name and CIDR mask is invalid: "db.example.com/24"',
        ),
        ("host all all 1.2.3.4/33 md5", 'invalid CIDR mask in address "1.2.3.4/33"'),
        ("host all all 1.2.3.4/32 crypt", 'invalid authentication method "crypt"'),
        ("host all all 1.2.3.4/32 md5,trust", "multiple values specified for authentication type"),
        ("host,local all all 1.2.3.4/32 md5", "multiple values specified for connection type"),
        ("host all all 1.2.3.4/32 peer", "peer authentication is only supported on local sockets"),
        (
            "host all all 1.2.3.4/32 cert",
            "cert authentication is only supported on hostssl connections",
        ),
        (
            "host all all 1.2.3.4/32 md5 clientcert=verify-full",
            'clientcert can only be configured for "hostssl" rows',
        ),
        (
            "hostssl all all 1.2.3.4/32 cert clientcert=verify-ca",
            'clientcert can only be set to "verify-full" when using "cert" authentication',
        ),
        ("host all all 1.2.3.4/32 md5 foo", "authentication option not in name=value format: foo"),
        ("host all all 1.2.3.4/32 md5 foo=1", 'unrecognized authentication option name: "foo"'),
        (
            "host all all 1.2.3.4/32 md5 map=x",
            'authentication option "map" is only valid for authentication methods ident, peer, '
            "gssapi, sspi, and cert",
        ),
        (
            "host all all 1.2.3.4/32 ldap",
            'authentication method "ldap" requires argument "ldapbasedn", "ldapprefix", or '
            '"ldapsuffix" to be set',
        ),
        (
            "host all all 1.2.3.4/32 radius",
            'authentication method "radius" requires argument "radiusservers" to be set',
        ),
        (
            "host all @missing.txt 1.2.3.4/32 md5",
            'could not open secondary authentication file "@missing.txt" as '
            '"/nonexistent-auditor-dir/missing.txt": No such file or directory',
        ),
        ("include", 'invalid syntax: "include" takes exactly one file name'),
        ("include a.conf b.conf", 'invalid syntax: "include" takes exactly one file name'),
        ("host all all 1.2.3.4/32 " + "x" * (MAX_TOKEN + 5), "authentication file token too long"),
    ],
)
def test_refused_lines_are_problems_with_the_servers_reason(line: str, message: str) -> None:
    found = parse_text(f"# header\n{line}\nhostssl all all 10.0.0.0/8 scram-sha-256\n", NOWHERE)
    assert [(p.location, p.message) for p in found.problems] == [(f"{NOWHERE}:2", message)]
    assert [r.line for r in found.rules] == [3]  # the rest of the file still counts


def test_include_directives_follow_postgresql_16(tmp_path: Path) -> None:
    root = HBA_FIXTURES / "includes"
    found = parse_file(root / "pg_hba.conf")
    assert found.problems == ()
    assert [(Path(r.file).relative_to(root).as_posix(), r.line, r.users) for r in found.rules] == [
        ("pg_hba.conf", 1, ("postgres",)),
        ("sub/tls.conf", 1, ("app", "report")),  # @../users.txt, relative to sub/
        ("conf.d/10-app.conf", 1, ("app",)),
        ("conf.d/20-legacy.conf", 1, ("legacy",)),
        ("pg_hba.conf", 5, ("all",)),
    ]


def test_missing_include_and_include_dir_are_problems_at_the_directive(tmp_path: Path) -> None:
    hba = tmp_path / "pg_hba.conf"
    hba.write_text(
        "include nope.conf\ninclude_if_exists nope.conf\ninclude_dir nodir\nlocal all all peer\n"
    )
    found = parse_file(hba)
    assert [(p.line, p.message.split(":")[0]) for p in found.problems] == [
        (1, f'could not open file "{tmp_path / "nope.conf"}"'),
        (3, f'could not open directory "{tmp_path / "nodir"}"'),
    ]
    assert [r.line for r in found.rules] == [4]


def test_include_cycles_and_recursive_lists_stop_at_the_nesting_limit(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("include b.conf\n")
    (tmp_path / "b.conf").write_text("include a.conf\n")
    (tmp_path / "self.txt").write_text("x, @self.txt\n")
    hba = tmp_path / "pg_hba.conf"
    hba.write_text("include a.conf\nhost all @self.txt 10.0.0.0/8 md5\nlocal all all peer\n")
    found = parse_file(hba)
    assert len(found.problems) == 2
    assert all("maximum nesting depth exceeded" in p.message for p in found.problems)
    assert found.problems[1].location == f"{hba}:2"
    assert [r.line for r in found.rules] == [3]


def test_unreadable_file_raises_read_failed(tmp_path: Path) -> None:
    with pytest.raises(ReadFailed, match="No such file or directory"):
        parse_file(tmp_path / "absent.conf")
    with pytest.raises(ReadFailed):
        parse_file(tmp_path)  # a folder


def test_odd_bytes_do_not_break_parsing(tmp_path: Path) -> None:
    hba = tmp_path / "pg_hba.conf"
    hba.write_bytes(
        b"host all \xff\xfe 10.0.0.0/8 md5\r\nlocal all all peer\0garbage\n"
        b"host all all 10.1.0.0/16 md5 \\"
    )
    found = parse_file(hba)
    assert [r.line for r in found.rules] == [1, 2, 3]
    assert found.rules[1].method == "peer"


_PIECES = st.sampled_from(
    [
        "host",
        "hostssl",
        "hostnossl",
        "local",
        "hostgssenc",
        "include",
        "include_dir",
        "all",
        "sameuser",
        "samerole",
        "replication",
        "+grp",
        "@list",
        '"q, "',
        '""',
        "#",
        ",",
        " ",
        "\t",
        "\\\n",
        "\n",
        "10.0.0.0/8",
        "::1/128",
        "1.2.3.4",
        "255.0.0.0",
        "0.0.0.0/0",
        "samehost",
        "samenet",
        ".example.com",
        "md5",
        "scram-sha-256",
        "trust",
        "reject",
        "cert",
        "peer",
        "ident",
        "ldap",
        "ldapserver=x",
        "ldapbasedn=y",
        "clientcert=verify-full",
        "map=m",
        "radiusservers=a",
        "/",
        "=",
        '"',
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=400), st.lists(_PIECES, max_size=60).map("".join)))
def test_any_input_gives_rules_or_located_problems(text: str) -> None:
    found = parse_text(text, NOWHERE)
    physical_lines = text.count("\n") + 1
    for rule in found.rules:
        assert rule.type in CONNECTION_TYPES
        assert rule.databases and rule.users and rule.method
        assert (rule.address is None) == (rule.type == "local")
        assert 1 <= rule.line <= physical_lines
    for problem in found.problems:
        assert problem.message and "\n" not in problem.message
        assert 1 <= problem.line <= physical_lines
