"""A hostile database cannot run its owner's code in the column, code and audit-log
collectors, nor fake a verdict through a view: shadowing functions on the database's
search_path, a declared view calling the owner's function, a foreign table. Each trap writes a
marker file when it runs; the tests first prove the traps fire, then that a scan leaves no
marker. Partitioned and inherited declared tables are judged leaf by leaf."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from auditor.catalog import all_checks
from auditor.collectors.base import CollectContext
from auditor.collectors.pg.audit_log import AuditLogCollector
from auditor.collectors.pg.code import MAX_BODY_CHARS, CodeCollector, CodeFacts
from auditor.collectors.pg.columns import ColumnCollector, ColumnFacts
from auditor.collectors.pg.session import PgSession
from auditor.facts import Facts, FactSection, TargetContext
from auditor.lab.cluster import Cluster
from auditor.model import Result, Status
from auditor.pg_ident import relation_name, sql_qualified
from auditor.runner import evaluate
from tests.column.conftest import columns_config
from tests.conftest import AUDITOR_PASSWORD

DECLARED = (
    "users.email",
    "customers.email",
    "remote_people.email",
    "events.email",
    "people.email",
    "private_notes.note",
)


@pytest.fixture
def markers(hostile_cluster: Cluster) -> Iterator[Path]:
    """An empty folder the server may write trap markers into."""
    folder = Path(tempfile.mkdtemp(prefix="auditor-traps-"))
    os.chmod(folder, 0o777)  # the server may run as another OS user
    with hostile_cluster.admin_connection() as conn:
        conn.execute("UPDATE hostile.marker_dir SET path = %s", (str(folder),))
        conn.commit()
    yield folder
    for f in folder.iterdir():
        f.unlink()
    folder.rmdir()


def _fired(folder: Path) -> set[str]:
    return {f.name for f in folder.iterdir()}


def _collect(cluster: Cluster) -> Facts:
    config = columns_config(cluster, DECLARED)
    ctx = CollectContext(config.targets[0], AUDITOR_PASSWORD, Path.cwd())
    session = PgSession.open(ctx)
    facts = Facts(target=TargetContext(name="db", kind="postgres"))
    try:
        for collector in (ColumnCollector(), CodeCollector(), AuditLogCollector()):
            section = collector.collect(session, ctx)
            assert isinstance(section, FactSection)
            facts.add(section)
    finally:
        session.close()
    return facts


def _results(facts: Facts, check_id: str) -> dict[str | None, Result]:
    return {r.resource: r for r in evaluate(facts, all_checks().values()) if r.check_id == check_id}


def test_the_traps_are_live(hostile_cluster: Cluster, markers: Path) -> None:
    """Unqualified calls and a read of the view do run the owner's code: the absence of
    markers after a scan is meaningful."""
    with psycopg.connect(hostile_cluster.dsn("auditor"), password=AUDITOR_PASSWORD) as conn:
        conn.execute("SELECT left('abc', 1), format('%s', 'x'::text)")
        conn.execute("SELECT email FROM customers LIMIT 1")
        conn.execute("SELECT note FROM private_notes")
        conn.execute("SELECT 'x'::text, 1::float8, 'pg_class'::regclass")
    assert _fired(markers) == {
        "left",
        "format",
        "view",
        "rls",
        "text_domain",
        "float8_domain",
        "regclass_domain",
    }


def test_scan_never_runs_the_owners_code(hostile_cluster: Cluster, markers: Path) -> None:
    facts = _collect(hostile_cluster)
    assert _fired(markers) == set()
    columns = facts.get(ColumnFacts)
    assert columns.errors == {}
    # Something was really read: the plaintext base table fails.
    encrypted = _results(facts, "column.sensitive_encrypted")
    assert encrypted["users.email"].status is Status.FAIL


def test_declared_view_and_foreign_table_are_described_not_read(
    hostile_cluster: Cluster, markers: Path
) -> None:
    facts = _collect(hostile_cluster)
    encrypted = _results(facts, "column.sensitive_encrypted")
    view = encrypted["customers.email"]
    assert view.status is Status.SKIP  # the fake ciphertext would have passed
    assert view.message == (
        "declared column customers.email: customers is a view reading from users and "
        "calling hostile.fake_ct(): not sampled, because reading a view runs its owner's "
        "code; declare the base table's column instead"
    )
    foreign = encrypted["remote_people.email"]
    assert foreign.status is Status.SKIP
    assert "a foreign table on server files (file_fdw)" in foreign.message
    assert facts.get(ColumnFacts).sample("customers.email") is None
    assert _fired(markers) == set()


def test_partitions_and_inheritance_are_judged_leaf_by_leaf(
    hostile_cluster: Cluster, markers: Path
) -> None:
    facts = _collect(hostile_cluster)
    encrypted = _results(facts, "column.sensitive_encrypted")
    old, new = encrypted["events_old.email"], encrypted["events_new.email"]
    assert old.status is Status.FAIL and new.status is Status.PASS
    assert old.message.startswith("events_old.email (under declared events.email): 10 of 10")
    assert old.evidence["declared_as"] == "events.email"
    # The inheritance parent is read with ONLY (its own rows), the child on its own.
    parent, child = encrypted["people.email"], encrypted["staff.email"]
    assert parent.status is Status.PASS and parent.evidence["sampled"] == 10
    assert "ONLY the table's own rows; 1 child tables sampled apart" in parent.evidence["sampling"]
    assert child.status is Status.FAIL and child.evidence["declared_as"] == "people.email"
    # The partitioned parent itself is not a table of rows: no result of its own.
    assert "events.email" not in encrypted


def test_a_huge_function_body_is_read_up_to_the_cap(
    hostile_cluster: Cluster, markers: Path
) -> None:
    """A 480 KB body (which once kept a scan busy past its 30 s limit) is read up to
    MAX_BODY_CHARS, and the cut is stated in the evidence."""
    statement = "  PERFORM pgp_sym_encrypt(p_x, p_key, 'cipher-algo=aes256');\n"
    body = "BEGIN\n" + statement * (480_000 // len(statement)) + "END"
    with hostile_cluster.admin_connection() as conn:
        conn.execute(
            # Built-in types named in full: the hostile database shadows `text` with its own.
            "CREATE OR REPLACE FUNCTION public.huge(p_x pg_catalog.text, p_key pg_catalog.text) "
            "RETURNS void "
            "LANGUAGE plpgsql AS " + "$body$" + body + "$body$"
        )
        conn.commit()
    try:
        facts = _collect(hostile_cluster)
    finally:
        with hostile_cluster.admin_connection() as conn:
            conn.execute("DROP FUNCTION public.huge(pg_catalog.text, pg_catalog.text)")
            conn.commit()
    code = facts.get(CodeFacts)
    assert code.truncated == ("function public.huge(p_x text, p_key text)",)
    assert code.key_functions["huge"] == 2  # learnt from the part that was read
    found = _results(facts, "column.key_in_code")
    result = found[None]
    assert result.status is Status.PASS
    # This scanner may not read pg_file_settings: that part is a skip naming the grant.
    unread = found["pg_file_settings"]
    assert unread.status is Status.SKIP
    assert "GRANT SELECT ON pg_catalog.pg_file_settings" in unread.message
    assert result.evidence["truncated"] == ["function public.huge(p_x text, p_key text)"]
    assert f"longer than {MAX_BODY_CHARS} characters were read only that far" in result.message


def test_rls_and_schema_usage_are_named_not_sampled(
    hostile_cluster: Cluster, markers: Path
) -> None:
    facts = _collect(hostile_cluster)
    assert _fired(markers) == set()  # the policy function never ran
    pii = _results(facts, "column.plaintext_pii")
    rls = pii["private_notes"]
    assert rls.status is Status.SKIP
    assert "row-level security is enabled on private_notes and auditor does not bypass it" in (
        rls.message
    )
    assert "ALTER ROLE auditor BYPASSRLS;" in rls.message
    declared = _results(facts, "column.sensitive_encrypted")["private_notes.note"]
    assert declared.status is Status.SKIP and "BYPASSRLS" in declared.message
    locked = pii["locked.contacts"]
    assert locked.status is Status.SKIP
    assert "GRANT USAGE ON SCHEMA locked TO auditor;" in locked.message
    assert facts.get(ColumnFacts).errors == {}


def test_hostile_names_give_a_grant_that_runs(hostile_cluster: Cluster, markers: Path) -> None:
    name = 'pay"ments[/]\nx'
    table = relation_name("order", name)  # quoted as PostgreSQL would: no two names collide
    assert table == '"order"."pay""ments[/]\nx"'
    facts = _collect(hostile_cluster)
    skip = _results(facts, "column.plaintext_pii")[table]
    assert skip.status is Status.SKIP
    grant = skip.evidence["grant"]
    # One line per statement: the newline in the name is written as a Unicode escape.
    assert grant == (
        'GRANT USAGE ON SCHEMA "order" TO auditor; '
        f"GRANT SELECT ON {sql_qualified('order', name)} TO auditor;"
    )
    assert "\n" not in grant
    with hostile_cluster.admin_connection() as conn:
        conn.execute(grant)
        conn.commit()
    try:
        again = _collect(hostile_cluster)
        found = _results(again, "column.plaintext_pii")[relation_name("order", name, "contact")]
        assert found.status is Status.FAIL
        assert found.evidence["pii"][0]["examples"] == ["h***@m***.org"]
    finally:
        with hostile_cluster.admin_connection() as conn:
            conn.execute('REVOKE ALL ON SCHEMA "order" FROM auditor')
            conn.execute('REVOKE ALL ON "order"."pay""ments[/]\nx" FROM auditor')
            conn.commit()


def test_an_access_log_behind_row_security_is_not_read_through_it(
    hostile_cluster: Cluster, markers: Path
) -> None:
    with psycopg.connect(hostile_cluster.dsn("auditor"), password=AUDITOR_PASSWORD) as conn:
        conn.execute("SELECT count(*) FROM encrypted_data_access_log")
    assert _fired(markers) == {"log_rls"}  # the trap is live for a plain read
    (markers / "log_rls").unlink()
    facts = _collect(hostile_cluster)
    assert _fired(markers) == set()
    active = _results(facts, "audit.access_log_active")["public.encrypted_data_access_log"]
    assert active.status is Status.SKIP
    assert "row-level security" in active.message
