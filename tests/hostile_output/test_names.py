"""Names users write (config, waivers) and names resources carry: one quoting, no collisions."""

from __future__ import annotations

import datetime as dt

import pytest

from auditor.model import Result, ScanResults, Severity, Status
from auditor.pg_ident import IdentError, column_spec, relation_name, split_name
from auditor.waivers import apply_waivers, parse_waivers


@pytest.mark.parametrize(
    ("spec", "parts"),
    [
        ("users.email", ("public", "users", "email")),
        ("Users.Email", ("public", "Users", "Email")),  # bare parts are taken as written
        ('public."archive.customers".email', ("public", "archive.customers", "email")),
        ('"a""b".c', ("public", 'a"b', "c")),
        ('"order"."x y"."z.w"', ("order", "x y", "z.w")),
    ],
)
def test_column_specs(spec: str, parts: tuple[str, str, str]) -> None:
    assert column_spec(spec) == parts


@pytest.mark.parametrize("spec", ["a", "a.b.c.d", "a..b", '"a.b', 'a"b.c', '"a"x.b', ".a.b"])
def test_bad_column_specs_say_why(spec: str) -> None:
    with pytest.raises(IdentError):
        column_spec(spec)


def test_resource_names_do_not_collide() -> None:
    dotted = relation_name("public", "archive.customers", "email")
    qualified = relation_name("archive", "customers", "email")
    assert dotted == '"archive.customers".email' and qualified == "archive.customers.email"
    assert split_name(dotted) == ("archive.customers", "email")
    assert relation_name("order", "Users", "e-mail") == '"order"."Users"."e-mail"'


def _fail(resource: str) -> Result:
    return Result(
        check_id="column.sensitive_encrypted",
        target="db",
        status=Status.FAIL,
        severity=Severity.CRITICAL,
        title="t",
        message="m",
        resource=resource,
    )


def _waived(resource_pattern: str, *resources: str) -> list[Status]:
    results = ScanResults("r", "2026-12-01T00:00:00Z", "2026-12-01T00:00:01Z", (),
                          tuple(_fail(r) for r in resources), "0")  # fmt: skip
    waivers = parse_waivers(
        "waivers:\n"
        "  - check: column.sensitive_encrypted\n"
        f"    resource: '{resource_pattern}'\n"
        "    reason: r\n    approved_by: a\n    expires: 2099-01-01\n"
    )
    return [r.status for r in apply_waivers(results, waivers, dt.date(2026, 12, 1)).findings]


def test_a_waiver_written_exactly_matches_names_with_glob_characters() -> None:
    odd = '"cards[1]".pan'
    # As a glob alone, [1] is a character class and the name itself would not match.
    assert _waived(odd, odd) == [Status.WAIVED]
    # fnmatch's own escape, [[], matches the literal bracket and nothing else.
    assert _waived('"cards[[]1]".pan', odd, '"cards1".pan') == [Status.WAIVED, Status.FAIL]
