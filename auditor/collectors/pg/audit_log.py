"""Audit-trail facts: the access-log table (`policy.access_log_table`, default the design's
`encrypted_data_access_log`): where it is, its columns, owner, how recent its last entry is,
whether it is partitioned or a TimescaleDB hypertable, which roles other than its owner may
rewrite it (UPDATE, DELETE, TRUNCATE) and which triggers guard it.

Reading the newest entry needs SELECT on the table: without it the gap names the GRANT.
On a big table without an index on `accessed_at` only an EXISTS probe for a recent row runs,
so the scan never sorts the whole log.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql
from pydantic import BaseModel, ConfigDict

from auditor.collectors.base import CollectContext
from auditor.collectors.pg.session import PgSession, SessionCollector, safe_error_text
from auditor.config import ACCESS_LOG_COLUMNS
from auditor.facts import FactSection
from auditor.pg_ident import quote_ident, sql_ident
from auditor.policy import Policy

REWRITE_PRIVILEGES = ("UPDATE", "DELETE", "TRUNCATE")
# Above this many pages, max(accessed_at) is only read through an index.
FULL_READ_MAX_PAGES = 10_000


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RewriteGrant(_Row):
    role: str  # a role name or "PUBLIC"
    privileges: tuple[str, ...]  # of UPDATE, DELETE, TRUNCATE
    how: str  # "granted directly", "granted to PUBLIC", "through membership"


class AuditLogFacts(FactSection):
    section = "audit_log"

    table: str  # the name looked for
    found: bool
    # design column -> this table's column (the config's access_log mapping, else identity)
    column_map: dict[str, str] = {}
    schema_name: str | None = None
    owner: str | None = None
    columns: dict[str, str] = {}  # name -> type
    estimated_rows: int | None = None
    partitioned: bool = False
    partitions: int = 0
    hypertable: bool | None = None  # None: TimescaleDB not installed
    accessed_at_indexed: bool = False
    latest_entry: str | None = None  # ISO timestamp of the newest accessed_at
    recent_entry: bool | None = None  # a row newer than the policy age exists
    max_age_days: int
    rewrite_grants: tuple[RewriteGrant, ...] = ()
    guard_triggers: tuple[str, ...] = ()  # triggers firing on UPDATE/DELETE/TRUNCATE
    # item -> the GRANT that would make it readable, or the error met
    unavailable: dict[str, str] = {}


def _policy(ctx: CollectContext) -> Policy:
    found = getattr(ctx, "policy", None)
    return found if isinstance(found, Policy) else Policy()


# The reference design's access-log columns (one list, also the keys a config may map), and
# those naming who accessed and from where.
DESIGN_LOG_COLUMNS = ACCESS_LOG_COLUMNS
IDENTITY_COLUMNS = ("accessed_by", "client_ip")


def access_log_mapping(ctx: CollectContext) -> tuple[str, dict[str, str]]:
    """The access-log table to look for and design column -> its column there.

    The target's `access_log: {table, columns}` maps an existing audit table; without it the
    policy's table name and the design's column names are used."""
    configured = getattr(ctx.target, "access_log", None)
    table = getattr(configured, "table", None) or _policy(ctx).access_log_table
    columns = {c: c for c in DESIGN_LOG_COLUMNS}
    columns.update(dict(getattr(configured, "columns", None) or {}))
    return table, columns


def access_log_identity(ctx: CollectContext) -> tuple[str, tuple[str, ...]]:
    """The access-log table and its identity columns (audit data, not PII to encrypt)."""
    table, columns = access_log_mapping(ctx)
    return table, tuple(columns[c] for c in IDENTITY_COLUMNS)


def _quote(name: str) -> str:
    return sql_ident(name)


class AuditLogCollector(SessionCollector):
    model = AuditLogFacts
    order = 45

    def collect(self, session: PgSession, ctx: CollectContext) -> AuditLogFacts:
        policy = _policy(ctx)
        wanted, column_map = access_log_mapping(ctx)
        accessed_at = column_map["accessed_at"]
        schema, _, name = wanted.rpartition(".")
        found = session.rows(
            """SELECT c.oid, n.nspname, c.relname, c.relkind, c.relpages,
                      c.reltuples::pg_catalog.float8 AS reltuples,
                      pg_catalog.pg_get_userbyid(c.relowner) AS owner, c.relowner
               FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relname = %s AND c.relkind IN ('r', 'p')
                 AND (%s = '' OR n.nspname = %s) AND NOT c.relispartition
               ORDER BY n.nspname <> 'public', n.nspname LIMIT 1""",
            (name, schema, schema),
        )
        base: dict[str, Any] = {
            "table": wanted,
            "max_age_days": policy.access_log_max_age_days,
            "column_map": column_map,
        }
        if not found:
            return AuditLogFacts(found=False, **base)
        t = found[0]
        oid = t["oid"]
        columns = {
            r["attname"]: r["type"]
            for r in session.rows(
                "SELECT attname, pg_catalog.format_type(atttypid, atttypmod) AS type "
                "FROM pg_catalog.pg_attribute WHERE attrelid = %s AND attnum > 0 "
                "AND NOT attisdropped ORDER BY attnum",
                (oid,),
            )
        }
        partitions = session.value(
            "SELECT pg_catalog.count(*) FROM pg_catalog.pg_inherits WHERE inhparent = %s", (oid,)
        )
        unavailable: dict[str, str] = {}
        hypertable = self._hypertable(session, t["nspname"], t["relname"], unavailable)
        indexed = bool(
            session.value(
                """SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                              JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid
                                   AND a.attnum = i.indkey[0]
                              WHERE i.indrelid = %s AND a.attname = %s)""",
                (oid, accessed_at),
            )
        )
        latest, recent = self._recency(
            session,
            t,
            indexed,
            accessed_at if accessed_at in columns else None,
            policy,
            unavailable,
        )
        return AuditLogFacts(
            found=True,
            schema_name=t["nspname"],
            owner=t["owner"],
            columns=columns,
            estimated_rows=max(0, int(t["reltuples"])),
            partitioned=t["relkind"] == "p" or bool(partitions),
            partitions=int(partitions or 0),
            hypertable=hypertable,
            accessed_at_indexed=indexed,
            latest_entry=latest,
            recent_entry=recent,
            rewrite_grants=self._all_rewrite_grants(session, oid, t["relkind"] == "p"),
            guard_triggers=tuple(
                r["tgname"]
                for r in session.rows(
                    # tgtype bits: 8 DELETE, 16 UPDATE, 32 TRUNCATE
                    "SELECT tgname FROM pg_catalog.pg_trigger WHERE tgrelid = %s "
                    "AND NOT tgisinternal AND tgenabled <> 'D' AND (tgtype & 56) <> 0 "
                    "ORDER BY tgname",
                    (oid,),
                )
            ),
            unavailable=unavailable,
            **base,
        )

    @staticmethod
    def _hypertable(
        session: PgSession, schema: str, table: str, unavailable: dict[str, str]
    ) -> bool | None:
        has_tsdb = session.value(
            "SELECT pg_catalog.count(*) FROM pg_catalog.pg_extension WHERE extname = 'timescaledb'"
        )
        if not has_tsdb:
            return None
        try:
            rows = session.rows_or_none(
                "SELECT 1 FROM timescaledb_information.hypertables "
                "WHERE hypertable_schema = %s AND hypertable_name = %s",
                (schema, table),
            )
        except Exception as exc:  # an old TimescaleDB has another catalog layout
            unavailable["hypertable"] = safe_error_text(exc)
            return None
        if rows is None:
            unavailable["hypertable"] = "no privilege on timescaledb_information.hypertables"
            return None
        return bool(rows)

    @staticmethod
    def _recency(
        session: PgSession,
        t: dict[str, Any],
        indexed: bool,
        column: str | None,
        policy: Policy,
        unavailable: dict[str, str],
    ) -> tuple[str | None, bool | None]:
        if column is None:
            return None, None
        when = sql.Identifier(column).as_string(session.conn)
        ident = f"{quote_ident(t['nspname'])}.{quote_ident(t['relname'])}"
        can_read = session.value(
            "SELECT pg_catalog.has_table_privilege(%s::pg_catalog.oid, 'SELECT') "
            "AND pg_catalog.has_schema_privilege(%s, 'USAGE')",
            (t["oid"], t["nspname"]),
        )
        if not can_read:
            role = session.value("SELECT current_user")
            unavailable["entries"] = (
                f"GRANT USAGE ON SCHEMA {quote_ident(t['nspname'])} TO {quote_ident(role)}; "
                f"GRANT SELECT ON {ident} TO {quote_ident(role)};"
            )
            return None, None
        days = policy.access_log_max_age_days
        try:
            # Row security off: a policy filtering the scanner (and running its owner's
            # functions) makes the read fail and say so instead of hiding rows.
            with session.conn.transaction(), session.conn.cursor() as cur:
                cur.execute("SET LOCAL row_security = off")
                cur.execute(
                    f"SELECT EXISTS (SELECT 1 FROM {ident} "
                    f"WHERE {when} OPERATOR(pg_catalog.>=) (pg_catalog.now() "
                    "OPERATOR(pg_catalog.-) pg_catalog.make_interval(days => %s))) AS recent",
                    (days,),
                )
                recent = cur.fetchone()["recent"]  # type: ignore[index]
                latest = None
                if indexed or t["relpages"] <= FULL_READ_MAX_PAGES:
                    cur.execute(f"SELECT pg_catalog.max({when}) AS latest FROM {ident}")
                    value = cur.fetchone()["latest"]  # type: ignore[index]
                    latest = None if value is None else _iso(value)
        except Exception as exc:  # the log's own failure must not hide the other facts
            unavailable["entries"] = safe_error_text(exc)
            return None, None
        return latest, bool(recent)

    @classmethod
    def _all_rewrite_grants(
        cls, session: PgSession, oid: int, partitioned: bool
    ) -> tuple[RewriteGrant, ...]:
        """Grants on the table and on each of its partitions: a DELETE granted on a
        partition erases log rows without touching the parent's privileges."""
        found = list(cls._rewrite_grants(session, oid))
        if not partitioned:
            return tuple(found)
        for part in session.rows(
            """SELECT c.oid, n.nspname || '.' || c.relname AS name
               FROM pg_catalog.pg_partition_tree(%s::pg_catalog.regclass) t
               JOIN pg_catalog.pg_class c ON c.oid = t.relid
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               WHERE t.relid <> %s::pg_catalog.regclass ORDER BY 2""",
            (oid, oid),
        ):
            found.extend(
                g.model_copy(update={"how": f"{g.how} on partition {part['name']}"})
                for g in cls._rewrite_grants(session, part["oid"])
            )
        return tuple(found)

    @staticmethod
    def _rewrite_grants(session: PgSession, oid: int) -> tuple[RewriteGrant, ...]:
        rows = session.rows(
            """WITH acl AS (
                   SELECT a.grantee, a.privilege_type
                   FROM pg_catalog.pg_class c,
                        pg_catalog.aclexplode(coalesce(
                            c.relacl, pg_catalog.acldefault('r', c.relowner))) a
                   WHERE c.oid = %(oid)s)
               SELECT 'PUBLIC' AS role,
                      ARRAY(SELECT privilege_type FROM acl WHERE grantee = 0
                            AND privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')
                            ORDER BY 1) AS privs,
                      'granted to PUBLIC' AS how
               UNION ALL
               SELECT r.rolname,
                      ARRAY(SELECT p FROM pg_catalog.unnest(ARRAY['UPDATE', 'DELETE', 'TRUNCATE']) p
                            WHERE pg_catalog.has_table_privilege(r.oid, %(oid)s::pg_catalog.oid, p)
                            ORDER BY 1),
                      CASE WHEN EXISTS (SELECT 1 FROM acl WHERE grantee = r.oid
                                        AND privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE'))
                           THEN 'granted directly' ELSE 'through membership' END
               FROM pg_catalog.pg_roles r, pg_catalog.pg_class c
               WHERE c.oid = %(oid)s AND r.oid <> c.relowner AND NOT r.rolsuper
                 AND r.rolname !~ '^pg_'
               ORDER BY 1""",
            {"oid": oid},
        )
        return tuple(
            RewriteGrant(role=r["role"], privileges=tuple(r["privs"]), how=r["how"])
            for r in rows
            if r["privs"]
        )


def _iso(value: Any) -> str:
    iso = getattr(value, "isoformat", None)
    return str(iso()) if callable(iso) else str(value)
