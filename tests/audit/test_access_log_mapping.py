"""An existing audit table with its own column names stands for the design's access log
when the target maps it (`access_log: {table, columns}`): presence, recency and the PII
exemption of its identity columns follow the mapping; an incomplete mapping fails naming the
design column and what it was mapped to; a mapping to unknown design columns is a config
error of one line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.catalog import all_checks
from auditor.collectors.base import CollectContext
from auditor.collectors.pg.audit_log import AuditLogCollector, AuditLogFacts
from auditor.collectors.pg.columns import ColumnCollector, ColumnFacts
from auditor.collectors.pg.session import PgSession
from auditor.config import ConfigError, parse_config
from auditor.facts import Facts, TargetContext
from auditor.lab.cluster import Cluster
from auditor.model import Result, ScanResults, Status
from auditor.runner import evaluate
from tests.conftest import AUDITOR_PASSWORD, config_for

FULL_MAP = (
    "{table: app_audit.audit_events, columns: {table_name: event_table, "
    "column_name: event_column, row_id: rid, accessed_by: actor, access_type: action, "
    "accessed_at: happened_at, client_ip: ip}}"
)


@pytest.fixture(scope="module")
def audit_events(
    column_weak_cluster: Cluster, weak_scan: tuple[ScanResults, Facts]
) -> Iterator[Cluster]:
    # weak_scan first: the shared weak cluster's own verdicts must not see this table.
    with column_weak_cluster.admin_connection() as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS app_audit")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS app_audit.audit_events (event_table text, "
            "event_column text, rid text, actor text, action text, "
            "happened_at timestamptz DEFAULT now(), ip inet)"
        )
        conn.execute("TRUNCATE app_audit.audit_events")
        conn.execute(
            "INSERT INTO app_audit.audit_events (event_table, event_column, rid, actor, action, "
            "happened_at, ip) SELECT 'users', 'email', g::text, "
            "'clerk' || g || '@corp.example.org', 'read', now() - make_interval(hours => g), "
            "('192.0.2.' || g)::inet FROM generate_series(1, 10) g"
        )
        conn.execute("GRANT USAGE ON SCHEMA app_audit TO auditor")
        conn.execute("GRANT SELECT ON app_audit.audit_events TO auditor")
        conn.commit()
    yield column_weak_cluster
    with column_weak_cluster.admin_connection() as conn:
        conn.execute("DROP SCHEMA app_audit CASCADE")
        conn.commit()


def _facts(cluster: Cluster, mapping: str) -> Facts:
    config = config_for(cluster, access_log=mapping, tls_probe="false")
    ctx = CollectContext(config.targets[0], AUDITOR_PASSWORD, Path.cwd())
    session = PgSession.open(ctx)
    facts = Facts(target=TargetContext(name="db", kind="postgres"))
    try:
        facts.add(AuditLogCollector().collect(session, ctx))
        facts.add(ColumnCollector().collect(session, ctx))
    finally:
        session.close()
    return facts


def _result(facts: Facts, check_id: str) -> Result:
    found = [r for r in evaluate(facts, all_checks().values()) if r.check_id == check_id]
    return found[-1]


def test_a_mapped_audit_table_passes_presence_and_recency(audit_events: Cluster) -> None:
    facts = _facts(audit_events, FULL_MAP)
    log = facts.get(AuditLogFacts)
    assert log.found and log.schema_name == "app_audit"
    present = _result(facts, "audit.access_log_present")
    assert present.status is Status.PASS
    assert present.message == (
        "app_audit.audit_events exists with all 7 design columns (7 mapped by the configuration)"
    )
    assert present.evidence["column_map"]["accessed_by"] == "actor"
    active = _result(facts, "audit.access_log_active")
    assert active.status is Status.PASS and active.evidence["latest_entry"] is not None
    # Its identity columns are audit data: e-mails of clerks and addresses are not flagged.
    columns = facts.get(ColumnFacts)
    actor = columns.sample("app_audit.audit_events.actor")
    assert actor is not None and actor.audit_trail and actor.pii != ()
    pii = [
        r
        for r in evaluate(facts, all_checks().values())
        if r.check_id == "column.plaintext_pii" and (r.resource or "").startswith("app_audit.")
    ]
    assert pii == []


def test_an_incomplete_mapping_fails_naming_the_design_column(audit_events: Cluster) -> None:
    partial = FULL_MAP.replace("client_ip: ip", "client_ip: source_address")
    facts = _facts(audit_events, partial)
    present = _result(facts, "audit.access_log_present")
    assert present.status is Status.FAIL
    assert present.message == (
        "app_audit.audit_events lacks columns: client_ip (mapped to source_address)"
    )
    # Without any mapping the design's names are looked for in the design's table.
    unmapped = _facts(audit_events, "{table: app_audit.audit_events}")
    missing = _result(unmapped, "audit.access_log_present")
    assert missing.status is Status.FAIL
    assert "lacks columns: table_name, column_name, row_id, accessed_by" in missing.message
    assert _result(unmapped, "audit.access_log_active").status is Status.FAIL


def test_unknown_design_columns_are_a_config_error() -> None:
    text = (
        "targets:\n  - name: db\n    dsn: 'postgresql://a@h/d'\n"
        "    access_log: {table: a.b, columns: {actor_name: actor}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yaml")
    assert "unknown access-log column actor_name" in str(caught.value)
    assert "\n" not in str(caught.value).strip()


def test_default_mapping_is_the_design() -> None:
    facts = Facts(target=TargetContext(name="db", kind="postgres"))
    facts.add(
        AuditLogFacts(
            table="encrypted_data_access_log",
            found=True,
            schema_name="public",
            columns={"accessed_at": "timestamptz"},
            max_age_days=7,
        )
    )
    present = _result(facts, "audit.access_log_present")
    assert present.status is Status.FAIL and "(mapped to" not in present.message
