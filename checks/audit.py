"""Audit trail: can access to personal data and to the server be reconstructed afterwards?"""

from __future__ import annotations

from typing import Any

from auditor.checks.base import Check
from auditor.collectors.pg.audit_log import DESIGN_LOG_COLUMNS, AuditLogFacts
from auditor.collectors.pg.server import ServerFacts
from auditor.facts import Facts
from auditor.model import Result, Severity


class ConnectionLogging(Check):
    id = "audit.connection_logging"
    title = "Connections and disconnections are logged"
    severity = Severity.MEDIUM
    rationale = "Who connected, from where and for how long is the first question of any incident."
    remediation = "Set log_connections = on and log_disconnections = on, then reload."
    requires = (ServerFacts,)

    def run(self, facts: Facts) -> list[Result]:
        server = facts.get(ServerFacts)
        names = ("log_connections", "log_disconnections")
        found = {n: server.setting(n) for n in names}
        evidence = {n: s.evidence() for n, s in found.items() if s is not None}
        off = [
            f"{n} = {s.value if s else 'unknown'} ({s.where if s else 'not reported'})"
            for n, s in found.items()
            if s is None or s.value != "on"
        ]
        if off:
            return [self.failed(facts, "; ".join(off), evidence=evidence)]
        return [
            self.passed(facts, "log_connections and log_disconnections are on", evidence=evidence)
        ]


def _log_location(log: AuditLogFacts) -> str:
    return f"{log.schema_name}.{log.table.rpartition('.')[2]}" if log.found else log.table


def _column(log: AuditLogFacts, design: str) -> str:
    """The log's column standing for a design column (the configured mapping)."""
    return log.column_map.get(design, design)


def _log_missing(check: Check, facts: Facts, log: AuditLogFacts) -> Result:
    return check.skipped(
        facts,
        f"the access-log table {log.table} does not exist (see audit.access_log_present)",
        resource=log.table,
    )


class AccessLogPresent(Check):
    id = "audit.access_log_present"
    title = "The encrypted-data access log table exists with the design's columns"
    severity = Severity.HIGH
    rationale = (
        "Who read or changed which encrypted value, when and from where is what GDPR Art. 30, "
        "HIPAA audit controls and PCI DSS 10.2 ask to reconstruct."
    )
    remediation = (
        "Create the access-log table (table_name, column_name, row_id, accessed_by, "
        "access_type, accessed_at timestamptz, client_ip inet) and write to it from the "
        "application's encrypt/decrypt paths; or map an existing audit table and its columns in "
        "the target's access_log: {table: schema.table, columns: {accessed_by: actor, ...}}."
    )
    requires = (AuditLogFacts,)

    def run(self, facts: Facts) -> list[Result]:
        log = facts.get(AuditLogFacts)
        if not log.found:
            return [
                self.failed(
                    facts, f"no table named {log.table} in this database", resource=log.table
                )
            ]
        where = _log_location(log)
        mapped = {c: _column(log, c) for c in DESIGN_LOG_COLUMNS}
        renamed = {c: m for c, m in mapped.items() if m != c}
        missing = [
            c if c not in renamed else f"{c} (mapped to {renamed[c]})"
            for c in DESIGN_LOG_COLUMNS
            if mapped[c] not in log.columns
        ]
        evidence: dict[str, Any] = {
            "table": where,
            "owner": log.owner,
            "columns": log.columns,
            "missing_columns": missing,
        }
        if renamed:
            evidence["column_map"] = renamed
        if missing:
            return [
                self.failed(
                    facts,
                    f"{where} lacks columns: {', '.join(missing)}",
                    resource=where,
                    evidence=evidence,
                )
            ]
        how = f" ({len(renamed)} mapped by the configuration)" if renamed else ""
        return [
            self.passed(
                facts,
                f"{where} exists with all {len(DESIGN_LOG_COLUMNS)} design columns{how}",
                resource=where,
                evidence=evidence,
            )
        ]


class AccessLogActive(Check):
    id = "audit.access_log_active"
    title = "The access log received entries recently"
    severity = Severity.MEDIUM
    rationale = "An access log nobody writes to evidences nothing; silence means a broken path."
    remediation = (
        "Make every encrypt/decrypt path of the application insert an access-log row; check "
        "the writer role's INSERT privilege."
    )
    requires = (AuditLogFacts,)

    def run(self, facts: Facts) -> list[Result]:
        log = facts.get(AuditLogFacts)
        if not log.found:
            return [_log_missing(self, facts, log)]
        where = _log_location(log)
        layout = (
            "TimescaleDB hypertable"
            if log.hypertable
            else f"partitioned ({log.partitions} partitions)"
            if log.partitioned
            else "plain table"
        )
        evidence = {
            "table": where,
            "latest_entry": log.latest_entry,
            "max_age_days": log.max_age_days,
            "estimated_rows": log.estimated_rows,
            "layout": layout,
            "partitioned": log.partitioned,
            "partitions": log.partitions,
            "hypertable": log.hypertable,
            "accessed_at_indexed": log.accessed_at_indexed,
        }
        if "entries" in log.unavailable:
            return [
                self.skipped(
                    facts,
                    f"{where}: entries not readable: {log.unavailable['entries']}",
                    resource=where,
                    evidence=evidence,
                )
            ]
        accessed_at = _column(log, "accessed_at")
        if accessed_at not in log.columns:
            return [
                self.failed(
                    facts,
                    f"{where} has no {accessed_at} column to date entries",
                    resource=where,
                    evidence=evidence,
                )
            ]
        latest = f"latest entry {log.latest_entry}" if log.latest_entry else "no entries"
        compare = {"expected": f"an entry in the last {log.max_age_days} days", "actual": latest}
        if not log.recent_entry:
            return [
                self.failed(
                    facts,
                    f"{where}: no entry in the last {log.max_age_days} days ({latest}; {layout})",
                    resource=where,
                    evidence=evidence,
                    **compare,
                )
            ]
        return [
            self.passed(
                facts,
                f"{where}: entries within the last {log.max_age_days} days ({latest}; {layout})",
                resource=where,
                evidence=evidence,
                **compare,
            )
        ]


class AccessLogAppendOnly(Check):
    id = "audit.access_log_append_only"
    title = "Only the access log's owner can rewrite it"
    severity = Severity.HIGH
    rationale = (
        "An audit trail the application may UPDATE, DELETE or TRUNCATE can be erased by the "
        "very account whose actions it records."
    )
    remediation = (
        "REVOKE UPDATE, DELETE, TRUNCATE ON <access log> FROM <role>, PUBLIC; grant the "
        "application INSERT (and SELECT if needed) only."
    )
    requires = (AuditLogFacts,)

    def run(self, facts: Facts) -> list[Result]:
        log = facts.get(AuditLogFacts)
        if not log.found:
            return [_log_missing(self, facts, log)]
        where = _log_location(log)
        grants = list(log.rewrite_grants)
        public = next((g for g in grants if g.role == "PUBLIC"), None)
        if public is not None:
            # Every role inherits PUBLIC's grant: name PUBLIC once, not each role again.
            grants = [
                g
                for g in grants
                if g.role == "PUBLIC"
                or not (
                    g.how == "through membership" and set(g.privileges) <= set(public.privileges)
                )
            ]
        evidence: dict[str, Any] = {
            "table": where,
            "owner": log.owner,
            "rewrite_grants": [g.model_dump(mode="json") for g in grants],
            "guard_triggers": list(log.guard_triggers),
        }
        if grants:
            who = "; ".join(f"{g.role} may {', '.join(g.privileges)} ({g.how})" for g in grants)
            guard = (
                f" (triggers {', '.join(log.guard_triggers)} may block some of it)"
                if log.guard_triggers
                else ""
            )
            return [self.failed(facts, f"{where}: {who}{guard}", resource=where, evidence=evidence)]
        return [
            self.passed(
                facts,
                f"{where}: only its owner {log.owner} (and superusers) may "
                "UPDATE, DELETE or TRUNCATE it",
                resource=where,
                evidence=evidence,
            )
        ]


class Pgaudit(Check):
    id = "audit.pgaudit"
    title = "pgaudit logs writes and DDL"
    severity = Severity.LOW
    rationale = (
        "pgaudit records who changed data and schema in a structured form the standard "
        "statement log does not give."
    )
    remediation = (
        "Add pgaudit to shared_preload_libraries (restart), CREATE EXTENSION pgaudit, and set "
        "pgaudit.log = 'write, ddl' (keep pgaudit.log_parameter = off)."
    )
    requires = (ServerFacts,)

    def run(self, facts: Facts) -> list[Result]:
        server = facts.get(ServerFacts)
        preload = server.setting("shared_preload_libraries")
        libraries = [x.strip().strip('"') for x in (preload.value if preload else "").split(",")]
        evidence: dict[str, Any] = {
            "shared_preload_libraries": preload.evidence() if preload else None,
            "extension": server.extensions.get("pgaudit"),
        }
        if "pgaudit" not in libraries:
            where = f" ({preload.where})" if preload else ""
            return [
                self.failed(
                    facts, f"pgaudit is not in shared_preload_libraries{where}", evidence=evidence
                )
            ]
        setting = server.setting("pgaudit.log")
        if setting is None:
            return [
                self.errored(
                    facts, "pgaudit is preloaded but pgaudit.log is not reported", evidence=evidence
                )
            ]
        evidence["pgaudit.log"] = setting.evidence()
        classes = pgaudit_classes(setting.value)
        missing = [c for c in ("write", "ddl") if c not in classes]
        if missing:
            return [
                self.failed(
                    facts,
                    f"pgaudit.log = {setting.value or 'none'} ({setting.where}) does not "
                    f"cover {', '.join(missing)}",
                    evidence=evidence,
                )
            ]
        return [
            self.passed(
                facts, f"pgaudit.log = {setting.value} ({setting.where})", evidence=evidence
            )
        ]


PGAUDIT_CLASSES = ("read", "write", "function", "role", "ddl", "misc", "misc_set")


def pgaudit_classes(value: str) -> set[str]:
    """The statement classes a pgaudit.log value enables ('all', '-class' exclusions)."""
    enabled: set[str] = set()
    for item in value.lower().split(","):
        item = item.strip()
        negate = item.startswith("-")
        name = item.lstrip("-").strip()
        names = set(PGAUDIT_CLASSES) if name == "all" else {name}
        enabled = enabled - names if negate else enabled | names
    return enabled
