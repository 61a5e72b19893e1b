"""Audit-trail verdicts on real clusters: the design's partitioned, append-only, active
access log and pgaudit pass; the weak cluster's log (missing client_ip, stale, deletable by
the app) and missing pgaudit fail with the evidence an auditor needs."""

from __future__ import annotations

import pytest

from auditor.catalog import all_checks
from auditor.checks.audit import pgaudit_classes
from auditor.collectors.pg.audit_log import AuditLogFacts, RewriteGrant
from auditor.facts import Facts, TargetContext
from auditor.model import Result, ScanResults, Severity, Status
from auditor.runner import evaluate

Scan = tuple[ScanResults, Facts]
LOG = "public.encrypted_data_access_log"


def _find(results: ScanResults, check_id: str) -> Result:
    (found,) = [r for r in results.findings if r.check_id == check_id]
    return found


def test_design_access_log_passes_every_audit_check(design_scan: Scan) -> None:
    results, facts = design_scan
    ours = [r for r in results.findings if r.check_id.startswith("audit.")]
    assert {r.check_id for r in ours} >= {
        "audit.access_log_present",
        "audit.access_log_active",
        "audit.access_log_append_only",
        "audit.connection_logging",
        "audit.pgaudit",
    }
    assert [(r.check_id, r.message) for r in ours if r.status is not Status.PASS] == []
    active = _find(results, "audit.access_log_active")
    assert active.resource == LOG
    assert active.evidence["layout"] == "partitioned (2 partitions)"
    assert active.evidence["accessed_at_indexed"] is True
    assert active.evidence["hypertable"] is None  # TimescaleDB is not installed
    log = facts.get(AuditLogFacts)
    assert log.owner == "audit_owner" and log.recent_entry is True
    assert log.columns["client_ip"] == "inet"
    pgaudit = _find(results, "audit.pgaudit")
    assert pgaudit.evidence["pgaudit.log"]["value"] == "write, ddl"
    assert pgaudit.evidence["extension"] is not None


def test_weak_access_log_fails_each_way(weak_scan: Scan) -> None:
    results, _ = weak_scan
    present = _find(results, "audit.access_log_present")
    assert present.status is Status.FAIL and present.severity is Severity.HIGH
    assert present.message == f"{LOG} lacks columns: client_ip"

    active = _find(results, "audit.access_log_active")
    assert active.status is Status.FAIL
    assert active.message.startswith(f"{LOG}: no entry in the last 7 days (latest entry ")
    assert active.evidence["layout"] == "plain table"

    append = _find(results, "audit.access_log_append_only")
    assert append.status is Status.FAIL and append.resource == LOG
    assert append.message == f"{LOG}: app may DELETE (granted directly)"
    assert append.evidence["rewrite_grants"] == [
        {"role": "app", "privileges": ["DELETE"], "how": "granted directly"}
    ]

    pgaudit = _find(results, "audit.pgaudit")
    assert pgaudit.status is Status.FAIL and pgaudit.severity is Severity.LOW
    assert pgaudit.message == "pgaudit is not in shared_preload_libraries (default)"


@pytest.mark.parametrize(
    ("value", "covers"),
    [
        ("write, ddl", True),
        ("all", True),
        ("ALL, -read", True),
        ("all, -ddl", False),
        ("read", False),
        ("none", False),
        ("", False),
        ("write,ddl,role", True),
    ],
)
def test_pgaudit_log_classes(value: str, covers: bool) -> None:
    classes = pgaudit_classes(value)
    assert ({"write", "ddl"} <= classes) is covers


def _facts(log: AuditLogFacts) -> Facts:
    facts = Facts(target=TargetContext(name="db", kind="postgres"))
    facts.add(log)
    return facts


def test_absent_log_fails_presence_and_skips_the_rest() -> None:
    facts = _facts(AuditLogFacts(table="encrypted_data_access_log", found=False, max_age_days=7))
    results = {
        r.check_id: r
        for r in evaluate(facts, all_checks().values())
        if r.check_id.startswith("audit.access_log")
    }
    assert results["audit.access_log_present"].status is Status.FAIL
    assert results["audit.access_log_present"].message == (
        "no table named encrypted_data_access_log in this database"
    )
    for check_id in ("audit.access_log_active", "audit.access_log_append_only"):
        assert results[check_id].status is Status.SKIP
        assert "see audit.access_log_present" in results[check_id].message


def test_public_grant_is_named_once_and_unreadable_entries_skip() -> None:
    log = AuditLogFacts(
        table="encrypted_data_access_log",
        found=True,
        schema_name="public",
        owner="owner",
        columns={"accessed_at": "timestamp with time zone"},
        max_age_days=7,
        rewrite_grants=(
            RewriteGrant(role="PUBLIC", privileges=("TRUNCATE", "UPDATE"), how="granted to PUBLIC"),
            RewriteGrant(role="app", privileges=("TRUNCATE", "UPDATE"), how="through membership"),
            RewriteGrant(
                role="ops", privileges=("DELETE", "TRUNCATE", "UPDATE"), how="granted directly"
            ),
        ),
        guard_triggers=("forbid_delete",),
        unavailable={"entries": "GRANT SELECT ON public.encrypted_data_access_log TO auditor;"},
    )
    results = {r.check_id: r for r in evaluate(_facts(log), all_checks().values())}
    append = results["audit.access_log_append_only"]
    assert append.status is Status.FAIL
    assert append.message == (
        f"{LOG}: PUBLIC may TRUNCATE, UPDATE (granted to PUBLIC); ops may DELETE, TRUNCATE, "
        "UPDATE (granted directly) (triggers forbid_delete may block some of it)"
    )
    active = results["audit.access_log_active"]
    assert active.status is Status.SKIP and "GRANT SELECT ON public." in active.message
