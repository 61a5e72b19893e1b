"""Column facts: what the declared sensitive columns really hold (OpenPGP headers, cipher,
S2K, integrity) and which other text-like columns hold plaintext personal data.

Sampling stays cheap on big tables and cannot be predicted by the table's owner: each table
yields at most `policy.sample_rows_per_column` rows (up to 64 small tables share one statement,
one round trip). A table of at most 1 MiB
(TOAST included) is read in a random row order; a bigger one through `TABLESAMPLE SYSTEM`
(whole random pages, so the cost follows the sample size, not the table size) with a
percentage sized from its row estimate. Both draw from a fresh random seed per scan, recorded
in the facts and in each sample's method, so the same rows are not read every time (a fixed
seed let an owner keep plaintext off the sampled pages). Only the head of each value is
fetched. Tables are visited until `policy.sample_budget_seconds` runs out, declared columns
first, then the tables likeliest to hold personal data; what was left out is recorded.

Sampled values live only in this module's local variables: the facts hold counts, labels
(cipher names, shapes, PII kinds) and masked examples, never a value.
"""

from __future__ import annotations

import concurrent.futures as cf
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from psycopg.rows import tuple_row
from psycopg.types.string import TextBinaryLoader
from pydantic import BaseModel, ConfigDict

from auditor import pgp, pii
from auditor.collectors.base import CollectContext
from auditor.collectors.pg.audit_log import access_log_identity
from auditor.collectors.pg.session import PgSession, SessionCollector, safe_error_text
from auditor.facts import FactSection
from auditor.pg_ident import (
    IdentError,
    column_spec,
    qualified,
    quote_ident,
    relation_name,
    sql_ident,
    sql_qualified,
)
from auditor.policy import Policy

# Characters of a text value and bytes of a bytea value worth reading (headers, PII);
# structured values (json, xml, arrays, composites) nest PII deeper, so more of them is read.
TEXT_HEAD_CHARS = 1024
# pg_catalog.text and pg_catalog.varchar (fixed OIDs in every PostgreSQL release): their
# values are text already, so the sampler reads them without format('%s'), which costs about
# a third of a small table's sampling time on the server. Any other type, a domain over text
# included, still goes through its output function.
PLAIN_TEXT_TYPE_OIDS = frozenset({25, 1043})
# Tables per catalog statement of the column inventory (see ColumnCollector._tables).
CATALOG_CHUNK = 2_000
STRUCTURED_HEAD_CHARS = 4096
BYTEA_HEAD_BYTES = pgp.HEAD_BYTES
# Up to this size (TOAST included) a table is read whole in a random order: as cheap as a
# sample, and every row has the same chance (a plain LIMIT would read the first rows only).
SMALL_TABLE_BYTES = 1024 * 1024
# A page holds at least this many rows when the row estimate is missing or stale.
MIN_ROWS_PER_PAGE = 4
# SYSTEM picks each page independently: ask for at least this many pages on average, so that
# a random seed never leaves a sample empty (P = e^-16) on a table of short rows.
MIN_EXPECTED_PAGES = 16
# TABLESAMPLE picks pages, and NULLs or dead tuples thin them out: ask for a few times more.
OVERSAMPLE = 4
EXAMPLES_PER_KIND = 3
USER_TABLES_FILTER = """
    n.nspname NOT IN ('pg_catalog', 'information_schema', 'timescaledb_information',
                      'timescaledb_experimental')
    AND n.nspname !~ '^(pg_toast|pg_temp_|_timescaledb)'
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid
                      AND d.deptype = 'e')"""


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PiiSummary(_Row):
    kind: str
    count: int
    fraction: float
    examples: tuple[str, ...]  # masked: j***@e***.org, 411111******1111


class ColumnSample(_Row):
    """Derived summary of one column's sample (never a value)."""

    schema_name: str
    table: str
    column: str
    data_type: str
    declared: bool
    # The declared name when this table inherits the declared column (a partition or an
    # inheritance child of the declared table); None when declared (or found) as itself.
    declared_as: str | None = None
    estimated_rows: int
    method: str  # how the rows were chosen, e.g. "TABLESAMPLE SYSTEM (0.0040%) LIMIT 200"
    sampled: int  # non-null values analysed
    openpgp: int = 0  # values that are symmetric OpenPGP messages
    encodings: dict[str, int] = {}
    ciphers: dict[str, int] = {}
    s2k_modes: dict[str, int] = {}
    s2k_digests: dict[str, int] = {}
    min_s2k_count: int | None = None
    integrity: dict[str, int] = {}  # "mdc" (tag 18) / "none" (tag 9)
    plaintext_exposed: int = 0  # bf/cast5 failure: readable literal data under a header
    shapes: dict[str, int] = {}  # non-ciphertext values by shape
    pii: tuple[PiiSummary, ...] = ()
    # an identity column of the access log (who accessed, from where): the audit trail must
    # name them, so they are not plaintext personal data to encrypt
    audit_trail: bool = False
    # values shaped like key material in a column or table named like a key store
    key_like: int = 0

    @property
    def name(self) -> str:
        """table.column, schema-qualified outside `public`, each part quoted as PostgreSQL
        would (the resource of results): `"archive.customers".email` is not
        `archive.customers.email`."""
        return relation_name(self.schema_name, self.table, self.column)


class ColumnFacts(FactSection):
    section = "columns"

    current_user: str
    server_version_num: int
    pgcrypto_version: str | None
    declared: tuple[str, ...]
    # declared by policy.ciphertext_columns_are_sensitive: found holding ciphertext
    declared_by_policy: tuple[str, ...] = ()
    # declared column -> why it is not judged in this database of a server target: its
    # table is in other databases of the server only (auditor/server_scan.py)
    declared_elsewhere: dict[str, str] = {}
    # Which columns were sampled: "declared" (sensitive_columns), "undeclared" (the PII
    # search); a narrowed scan leaves out what its checks do not read.
    parts: tuple[str, ...] = ("declared", "undeclared")
    samples: tuple[ColumnSample, ...]
    rows_per_column: int
    # the random seed of this scan's sample (TABLESAMPLE REPEATABLE and setseed)
    sample_seed: int | None = None
    # declared column -> why it was not sampled (missing, or the exact GRANT)
    declared_problems: dict[str, str] = {}
    # table -> the GRANT that would let the scan read it
    unreadable: dict[str, str] = {}
    # table -> why row-level security would filter what the scan sees, and what lets it read
    # every row (such tables are not sampled: a filtered sample would over-claim)
    rls_filtered: dict[str, str] = {}
    # declared column -> what its relation is and what it reads from, for relations that are
    # never read because reading them runs their owner's code (views, foreign tables)
    not_executed: dict[str, str] = {}
    # table -> one-line error (never a value)
    errors: dict[str, str] = {}
    not_sampled: tuple[str, ...] = ()  # tables left out when the time budget ran out
    budget_seconds: float
    elapsed_seconds: float

    def sample(self, name: str) -> ColumnSample | None:
        for s in self.samples:
            if name in (s.name, qualified(s.schema_name, s.table, s.column)):
                return s
        return None


@dataclass
class _Column:
    name: str
    data_type: str
    is_bytea: bool
    declared: bool
    readable: bool
    declared_as: str | None = None
    kind: str = "text"  # text | bytea | inet | structured (json, xml, array, composite)
    audit_trail: bool = False
    plain_text: bool = False  # of pg_catalog's own text or varchar type: read as it is


@dataclass
class _Table:
    oid: int
    schema: str
    name: str
    reltuples: float
    pages: int
    children: int = 0  # inheritance children or partitions (sampled on their own)
    total_bytes: int = 0  # heap and TOAST
    schema_usable: bool = True
    rls: str | None = None  # "enabled" / "forced" when row-level security filters the scan
    columns: list[_Column] = field(default_factory=list)

    @property
    def display(self) -> str:
        return relation_name(self.schema, self.name)

    @property
    def estimated_rows(self) -> int:
        if self.reltuples >= 0:
            return int(self.reltuples)
        # Never analysed: guess from the file size (a text-heavy page holds ~50 rows).
        return self.pages * 50


def _policy(ctx: CollectContext) -> Policy:
    found = getattr(ctx, "policy", None)
    return found if isinstance(found, Policy) else Policy()


def grant_select(role: str, schema: str, table: str) -> str:
    return (
        f"GRANT USAGE ON SCHEMA {sql_ident(schema)} TO {sql_ident(role)}; "
        f"GRANT SELECT ON {sql_qualified(schema, table)} TO {sql_ident(role)};"
    )


def _display(schema: str, name: str) -> str:
    return relation_name(schema, name)


def sample_plan(
    estimated_rows: int, wanted: int, total_bytes: int = 0, seed: int = 0, pages: int = 0
) -> tuple[float | None, str]:
    """The TABLESAMPLE SYSTEM percentage for a table (None: read in a random row order), and
    the method as evidence states it."""
    if total_bytes <= SMALL_TABLE_BYTES:
        return None, f"all rows in random order (seed {seed}) LIMIT {wanted}"
    rows = max(estimated_rows, pages * MIN_ROWS_PER_PAGE, 1)
    by_pages = 100.0 * MIN_EXPECTED_PAGES / pages if pages else 0.0
    pct = min(100.0, max(0.0001, 100.0 * wanted * OVERSAMPLE / rows, by_pages))
    return pct, f"TABLESAMPLE SYSTEM ({pct:.4f}%) REPEATABLE ({seed}) LIMIT {wanted}"


# What each relkind is, for relations that are declared but never read.
RELKIND_WORDS = {
    "v": "a view",
    "f": "a foreign table",
    "S": "a sequence",
    "i": "an index",
    "I": "a partitioned index",
    "c": "a composite type",
    "t": "a TOAST table",
}

# Every relation a view's rewrite rule reads from, and every function it calls, from the
# dependencies PostgreSQL recorded when the view was created (nothing of the view runs).
VIEW_SOURCES = """SELECT DISTINCT 'relation' AS kind, n.nspname AS schema_name, c.relname AS name,
           c.relkind::pg_catalog.text AS relkind
    FROM pg_catalog.pg_rewrite r
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
         AND d.objid = r.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
    JOIN pg_catalog.pg_class c ON c.oid = d.refobjid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE r.ev_class = %(oid)s AND d.refobjid <> %(oid)s
    UNION
    SELECT DISTINCT 'function', n.nspname, p.proname, NULL
    FROM pg_catalog.pg_rewrite r
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
         AND d.objid = r.oid AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
    JOIN pg_catalog.pg_proc p ON p.oid = d.refobjid
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    WHERE r.ev_class = %(oid)s AND n.nspname <> 'pg_catalog'
    ORDER BY 1, 2, 3"""

# The declared relation and, for partitioned or inheritance parents, every descendant.
DESCENDANTS = """WITH RECURSIVE tree(oid, depth) AS (
        SELECT %s::pg_catalog.oid, 0
        UNION
        SELECT i.inhrelid, t.depth + 1 FROM pg_catalog.pg_inherits i
        JOIN tree t ON i.inhparent = t.oid WHERE t.depth < 64)
    SELECT c.oid, n.nspname, c.relname, c.relkind::pg_catalog.text AS relkind
    FROM tree JOIN pg_catalog.pg_class c ON c.oid = tree.oid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    ORDER BY tree.depth, n.nspname, c.relname"""


class ColumnCollector(SessionCollector):
    model = ColumnFacts
    order = 30

    def collect(self, session: PgSession, ctx: CollectContext) -> ColumnFacts:
        started = time.monotonic()
        policy = _policy(ctx)
        wanted = policy.sample_rows_per_column
        who = session.rows(
            "SELECT current_user AS u, "
            "pg_catalog.current_setting('server_version_num')::int AS v, "
            "(SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pgcrypto') AS pc"
        )[0]
        role = who["u"]
        declared = tuple(getattr(ctx.target, "sensitive_columns", ()))
        # Fresh per scan: the owner cannot know which pages or rows will be read.
        seed = secrets.randbelow(2**31 - 1)
        log_table, log_identity = access_log_identity(ctx)
        audit_columns = self._audit_columns(session, log_table, log_identity)
        tables, declared_problems, not_executed = self._tables(
            session, declared, role, audit_columns
        )
        # A narrowed scan samples only the columns its checks judge (--check column.pgcrypto_*
        # samples nothing, --check column.sensitive_encrypted only the declared columns).
        parts = tuple(p for p in ("declared", "undeclared") if ctx.wants(f"columns:{p}"))
        tables = _keep_parts(tables, parts)

        samples: list[ColumnSample] = []
        unreadable: dict[str, str] = {}
        errors: dict[str, str] = {}
        not_sampled: list[str] = []
        rls_filtered: dict[str, str] = {}
        todo: list[tuple[_Table, list[_Column]]] = []  # what to sample, in `tables` order
        for table in tables:
            readable = [c for c in table.columns if c.readable and table.schema_usable]
            if table.rls is not None:
                rls_filtered[table.display] = (
                    f"row-level security is {table.rls} on {table.display} and {role} does not "
                    f"bypass it, so it would see only the rows a policy lets through: "
                    f"ALTER ROLE {quote_ident(role)} BYPASSRLS; (pg_read_all_data does not bypass "
                    "row-level security)"
                )
                for col in table.columns:
                    if col.declared:
                        declared_problems[f"{table.display}.{col.name}"] = rls_filtered[
                            table.display
                        ]
                continue
            if len(readable) < len(table.columns):
                unreadable[table.display] = grant_select(role, table.schema, table.name)
                for col in table.columns:
                    if col.declared and not (col.readable and table.schema_usable):
                        declared_problems[relation_name(table.schema, table.name, col.name)] = (
                            f"no SELECT privilege: {unreadable[table.display]}"
                        )
            if not readable:
                continue
            todo.append((table, readable))

        todo.sort(key=lambda item: _likelihood(*item))
        batches = _batches(todo, wanted)
        # The budget bounds the reading of rows, from here: the inventory above is bounded
        # per statement, and on a 10,000-table catalog of a busy server it alone could use
        # up the whole budget (no table sampled at all).
        deadline = time.monotonic() + policy.sample_budget_seconds
        done = _sample_all(session, ctx, batches, wanted, seed, deadline, policy)
        for index, (table, _) in enumerate(todo):
            outcome = done.get(index)
            if outcome is None:
                not_sampled.append(table.display)
            elif isinstance(outcome, str):
                errors[table.display] = outcome
            else:
                samples.extend(outcome)

        facts = ColumnFacts(
            current_user=role,
            server_version_num=who["v"],
            pgcrypto_version=who["pc"],
            declared=declared,
            parts=parts,
            samples=tuple(samples),
            rows_per_column=wanted,
            sample_seed=seed,
            declared_problems=declared_problems,
            not_executed=not_executed,
            unreadable=unreadable,
            rls_filtered=rls_filtered,
            errors=errors,
            not_sampled=tuple(not_sampled),
            budget_seconds=policy.sample_budget_seconds,
            elapsed_seconds=round(time.monotonic() - started, 3),
        )
        from auditor.ciphertext_columns import declare_ciphertext_columns  # imports this module

        return declare_ciphertext_columns(facts, policy)

    # -- which tables and columns ------------------------------------------------------------

    @staticmethod
    def _audit_columns(
        session: PgSession, table: str, identity: tuple[str, ...]
    ) -> dict[int, set[str]]:
        """The access log's identity columns, on the log and on each of its partitions."""
        schema, _, name = table.rpartition(".")
        found = session.rows(
            "SELECT c.oid FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = %s AND c.relkind IN ('r', 'p') AND (%s = '' OR n.nspname = %s) "
            "AND NOT c.relispartition",
            (name, schema, schema),
        )
        out: dict[int, set[str]] = {}
        for log in found:
            for leaf in session.rows(DESCENDANTS, (log["oid"],)):
                out[leaf["oid"]] = set(identity)
        return out

    def _tables(
        self,
        session: PgSession,
        declared: tuple[str, ...],
        role: str,
        audit_columns: dict[int, set[str]],
    ) -> tuple[list[_Table], dict[str, str], dict[str, str]]:
        """The base tables and materialized views to sample, with their columns.

        Only relations whose rows are stored are read: a view, a foreign table or anything
        else declared is described from the catalog (what it reads from) and never run,
        because reading it would run its owner's code with the scanner's rights. A declared
        partitioned or inheritance parent stands for its leaves, which carry the column.
        """
        problems: dict[str, str] = {}
        not_executed: dict[str, str] = {}
        wanted: dict[int, set[str]] = {}
        inherited: dict[tuple[int, str], str] = {}  # (leaf oid, column) -> declared name
        for item in declared:
            try:
                schema, table, column = column_spec(item)
            except IdentError as exc:  # the config validator refuses these; facts may not
                problems[item] = str(exc)
                continue
            name = qualified(schema, table)
            item = relation_name(schema, table, column)  # one spelling for each column
            found = session.rows(
                "SELECT c.oid, c.relkind::pg_catalog.text AS relkind, n.nspname, c.relname, "
                "a.attname "
                "FROM pg_catalog.pg_class c "
                "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid "
                "  AND a.attname = %s AND a.attnum > 0 AND NOT a.attisdropped "
                "WHERE c.oid = pg_catalog.to_regclass(%s)",
                (column, name),
            )
            if not found:
                problems[item] = f"table {relation_name(schema, table)} not found"
                continue
            rel = found[0]
            if rel["attname"] is None:
                problems[item] = (
                    f"table {relation_name(schema, table)} has no column {quote_ident(column)}"
                )
                continue
            if rel["relkind"] in ("r", "m", "p"):
                for leaf in session.rows(DESCENDANTS, (rel["oid"],)):
                    if leaf["relkind"] in ("r", "m"):
                        wanted.setdefault(leaf["oid"], set()).add(column)
                        if leaf["oid"] != rel["oid"]:
                            inherited[(leaf["oid"], column)] = item
                    elif leaf["relkind"] != "p":
                        leaf_name = _display(leaf["nspname"], leaf["relname"])
                        leaf_column = relation_name(leaf["nspname"], leaf["relname"], column)
                        not_executed[leaf_column] = (
                            f"{leaf_name} (under declared {item}) is "
                            + self._describe(session, leaf)
                        )
                continue
            rel_name = _display(rel["nspname"], rel["relname"])
            not_executed[item] = f"{rel_name} is " + self._describe(session, rel)

        # Three single-purpose reads joined here, each linear in the catalog's size whatever
        # plan the server picks: one row per table (its sizes computed once, not once per
        # column), the columns of those tables (an index lookup per table), and the sample
        # kind of each distinct column type. One query joining pg_class, pg_attribute and
        # pg_type three times let a misestimated plan rescan pg_type per column (quadratic).
        # The per-table reads go CATALOG_CHUNK tables per statement: each statement then
        # costs the same at 1,000 or 100,000 tables, and stays far inside the statement
        # timeout however loaded the server (one statement over 10,000 tables timed out).
        table_oids = [
            r["oid"]
            for r in session.rows(
                f"""SELECT c.oid FROM pg_catalog.pg_class c
                    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relkind IN ('r', 'm')
                      AND ({USER_TABLES_FILTER} OR c.oid = ANY(%s::pg_catalog.oid[]))""",
                (list(wanted),),
            )
        ]
        table_rows: list[dict[str, Any]] = []
        column_rows: list[dict[str, Any]] = []
        for chunk in _chunks(table_oids, CATALOG_CHUNK):
            table_rows += self._table_rows(session, chunk)
            column_rows += self._column_rows(session, chunk)
        kinds = self._type_kinds(session, sorted({r["type_oid"] for r in column_rows}))
        block = int(session.value("SELECT pg_catalog.current_setting('block_size')"))
        for r in table_rows:
            # The heap and its TOAST data (pg_table_size adds the free-space and visibility
            # maps, and costs several times more file lookups per table).
            r["pages"] = int(r["main_bytes"]) // block
            r["total_bytes"] = int(r["main_bytes"]) + int(r["toast_bytes"])
        by_oid = {r["oid"]: r for r in table_rows}
        rows = [
            {**by_oid[c["oid"]], **c, "sample_kind": kinds.get(c["type_oid"])}
            for c in column_rows
            if c["oid"] in by_oid
        ]
        rows.sort(key=lambda r: (r["nspname"], r["relname"]))  # stable: columns stay in order
        me = session.rows(
            "SELECT rolsuper, rolbypassrls FROM pg_catalog.pg_roles "
            "WHERE rolname OPERATOR(pg_catalog.=) current_user"
        )
        bypass = bool(me and (me[0]["rolsuper"] or me[0]["rolbypassrls"]))
        tables: dict[int, _Table] = {}
        for r in rows:
            is_declared = r["attname"] in wanted.get(r["oid"], set())
            if not (is_declared or r["sample_kind"]):
                continue
            entry = tables.get(r["oid"])
            if entry is None:
                entry = tables[r["oid"]] = _Table(
                    r["oid"],
                    r["nspname"],
                    r["relname"],
                    r["reltuples"],
                    r["pages"],
                    children=int(r["children"] or 0),
                    total_bytes=int(r["total_bytes"] or 0),
                    schema_usable=bool(r["schema_usable"]),
                    rls=_rls(r, bypass),
                )
            entry.columns.append(
                _Column(
                    r["attname"],
                    r["type"],
                    r["sample_kind"] == "bytea",
                    is_declared,
                    bool(r["readable"]),
                    declared_as=inherited.get((r["oid"], r["attname"])),
                    kind=r["sample_kind"] or "text",
                    audit_trail=r["attname"] in audit_columns.get(r["oid"], set()),
                    plain_text=r["type_oid"] in PLAIN_TEXT_TYPE_OIDS,
                )
            )
        # Tables holding declared columns first: they matter most if the budget runs out.
        ordered = sorted(tables.values(), key=lambda t: (t.oid not in wanted, t.schema, t.name))
        return ordered, problems, not_executed

    # Both per-chunk reads below look each oid up through its catalog's index, in a LATERAL
    # subquery kept apart by OFFSET 0. Given `oid = ANY(2,000 oids)`, or a join to them, the
    # planner read the whole catalog once per chunk instead: quadratic in the catalog's size
    # (a 10,000-table database's pg_attribute, 200,000 rows, read 5 times, 0.9 s; 0.25 s
    # now). The subquery cannot be merged into such a join, so it stays one lookup per oid.
    @staticmethod
    def _table_rows(session: PgSession, oids: list[int]) -> list[dict[str, Any]]:
        """One row per table: its sizes (computed once per table, not once per column),
        inheritance children, schema usage and row security."""
        return session.rows(
            """SELECT c.oid, n.nspname, c.relname, c.reltuples::pg_catalog.float8 AS reltuples,
                      pg_catalog.pg_relation_size(c.oid) AS main_bytes,
                      CASE WHEN c.reltoastrelid <> 0
                           THEN pg_catalog.pg_relation_size(c.reltoastrelid) ELSE 0
                      END AS toast_bytes,
                      (SELECT pg_catalog.count(*) FROM pg_catalog.pg_inherits i
                       WHERE i.inhparent = c.oid) AS children,
                      pg_catalog.has_schema_privilege(n.oid, 'USAGE') AS schema_usable,
                      c.relrowsecurity, c.relforcerowsecurity,
                      pg_catalog.pg_has_role(c.relowner, 'USAGE') AS owns
               FROM pg_catalog.unnest(%s::pg_catalog.oid[]) AS wanted(oid),
               LATERAL (SELECT x.oid, x.relname, x.relnamespace, x.reltuples,
                               x.reltoastrelid, x.relrowsecurity, x.relforcerowsecurity,
                               x.relowner
                        FROM pg_catalog.pg_class x WHERE x.oid = wanted.oid OFFSET 0) c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace""",
            (oids,),
        )

    @staticmethod
    def _column_rows(session: PgSession, oids: list[int]) -> list[dict[str, Any]]:
        """The columns of these tables (an index lookup per table), in table order."""
        return session.rows(
            """SELECT a.attrelid AS oid, a.attname, a.atttypid AS type_oid,
                      pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
                      pg_catalog.has_column_privilege(a.attrelid, a.attnum, 'SELECT') AS readable
               FROM pg_catalog.unnest(%s::pg_catalog.oid[]) AS wanted(oid),
               LATERAL (SELECT x.attrelid, x.attnum, x.attname, x.atttypid, x.atttypmod
                        FROM pg_catalog.pg_attribute x
                        WHERE x.attrelid = wanted.oid AND x.attnum > 0 AND NOT x.attisdropped
                        OFFSET 0) a
               ORDER BY a.attrelid, a.attnum""",
            (oids,),
        )

    @staticmethod
    def _type_kinds(session: PgSession, type_oids: list[int]) -> dict[int, str | None]:
        """The sample kind of each distinct column type (text, bytea, inet, structured)."""
        return {
            r["oid"]: r["sample_kind"]
            for r in session.rows(
                """SELECT t.oid,
                       CASE WHEN bt.typname = 'bytea' AND bt.typnamespace = n_cat.oid
                                 THEN 'bytea'
                            WHEN bt.typcategory = 'S' THEN 'text'
                            WHEN bt.typname IN ('json', 'jsonb', 'xml')
                                 AND bt.typnamespace = n_cat.oid THEN 'structured'
                            WHEN bt.typcategory = 'I' THEN 'inet'
                            WHEN bt.typtype = 'c' THEN 'structured'
                            WHEN et.typcategory IN ('S', 'I') OR et.typtype = 'c'
                                 OR et.typname IN ('json', 'jsonb', 'xml') THEN 'structured'
                       END AS sample_kind
                   FROM pg_catalog.pg_type t
                   JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd'
                        THEN t.typbasetype ELSE t.oid END
                   LEFT JOIN pg_catalog.pg_type et ON et.oid = bt.typelem
                        AND bt.typcategory = 'A'
                   CROSS JOIN (SELECT oid FROM pg_catalog.pg_namespace
                               WHERE nspname = 'pg_catalog') n_cat
                   WHERE t.oid = ANY(%s::pg_catalog.oid[])""",
                (type_oids,),
            )
        }

    @staticmethod
    def _describe(session: PgSession, rel: dict[str, Any]) -> str:
        """What a relation that is not read is, and what it reads from (from the catalog)."""
        what = RELKIND_WORDS.get(rel["relkind"], f"a relation of kind {rel['relkind']!r}")
        if rel["relkind"] == "v":
            sources = session.rows(VIEW_SOURCES, {"oid": rel["oid"]})
            relations = [
                _display(s["schema_name"], s["name"]) for s in sources if s["kind"] == "relation"
            ]
            functions = [
                f"{s['schema_name']}.{s['name']}()" for s in sources if s["kind"] == "function"
            ]
            reads = f" reading from {', '.join(relations)}" if relations else ""
            calls = f" and calling {', '.join(functions)}" if functions else ""
            return (
                f"{what}{reads}{calls}: not sampled, because reading a view runs its "
                "owner's code; declare the base table's column instead"
            )
        if rel["relkind"] == "f":
            server = session.rows(
                "SELECT s.srvname, w.fdwname FROM pg_catalog.pg_foreign_table f "
                "JOIN pg_catalog.pg_foreign_server s ON s.oid = f.ftserver "
                "JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw "
                "WHERE f.ftrelid = %s",
                (rel["oid"],),
            )
            via = f" on server {server[0]['srvname']} ({server[0]['fdwname']})" if server else ""
            return (
                f"{what}{via}: not sampled, because reading it runs its wrapper's code against "
                "another server; audit the server that stores the rows"
            )
        return f"{what}: holds no sampled rows"


# -- sampling ----------------------------------------------------------------------------------

# Tables sampled in one statement (one round trip), the values one statement may return at
# most (rows x columns, from the row estimates: this bounds the memory a batch holds), and
# the bytes of the small tables it reads whole (this bounds its time under statement_timeout).
BATCH_TABLES = 128  # per-statement costs (round trips, a transaction) shared by more
BATCH_VALUES = 12_000
BATCH_BYTES = 16 * SMALL_TABLE_BYTES
READ_AHEAD = 2  # batches read (or being read) ahead of the analysis, on one connection
# Column names that usually hold personal data: their tables are sampled first, so that a
# budget that runs out leaves the least likely tables unread (and named).
LIKELY_PII_NAME = re.compile(
    r"(?i)mail|phone|mobile|fax|name|addr|street|city|zip|postal|birth|dob|ssn|social|"
    r"passport|licen[cs]e|card|iban|account|bank|tax|national|salary|patient|diagnos|"
    r"health|note|comment|remark|contact|customer|person|people|user|member|employee|"
    r"client|gender|(?:^|_)(?:ip|age|pan)(?:_|$)"
)


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _keep_parts(tables: list[_Table], parts: tuple[str, ...]) -> list[_Table]:
    """The tables with only the columns of the wanted parts (tables left with none go)."""
    kept: list[_Table] = []
    for table in tables:
        table.columns = [
            c for c in table.columns if ("declared" if c.declared else "undeclared") in parts
        ]
        if table.columns:
            kept.append(table)
    return kept


Outcome = list[ColumnSample] | str  # the table's column samples, or a one-line error
Batch = list[tuple[int, _Table, list[_Column]]]  # (index in the sampling order, table, columns)


def _likelihood(table: _Table, columns: list[_Column]) -> tuple[int, int, float, str, str]:
    """Sort key: declared columns first, then tables whose names or columns look personal,
    then structured and text columns before others, then the biggest tables."""
    declared = any(c.declared for c in columns)
    named = sum(1 for c in columns if LIKELY_PII_NAME.search(c.name))
    named += 2 * bool(LIKELY_PII_NAME.search(table.name))
    texty = sum(1 for c in columns if c.kind in ("text", "structured"))
    return (
        not declared,
        -(named * 4 + texty),
        -float(table.estimated_rows),
        table.schema,
        table.name,
    )


def _batches(todo: list[tuple[_Table, list[_Column]]], wanted: int) -> list[Batch]:
    """Consecutive tables grouped into statements of at most BATCH_TABLES tables, about
    BATCH_VALUES values and BATCH_BYTES read whole; a table bigger than that goes alone."""
    out: list[Batch] = []
    current: Batch = []
    values = read = 0
    for index, (table, columns) in enumerate(todo):
        rows = min(wanted, max(table.estimated_rows, MIN_ROWS_PER_PAGE * max(table.pages, 1)))
        cost = rows * len(columns)
        size = min(table.total_bytes, SMALL_TABLE_BYTES)
        if current and (
            len(current) >= BATCH_TABLES
            or values + cost > BATCH_VALUES
            or read + size > BATCH_BYTES
        ):
            out.append(current)
            current, values, read = [], 0, 0
        current.append((index, table, columns))
        values += cost
        read += size
    if current:
        out.append(current)
    return out


def _sample_all(
    session: PgSession,
    ctx: CollectContext,
    batches: list[Batch],
    wanted: int,
    seed: int,
    deadline: float,
    policy: Policy,
) -> dict[int, Outcome]:
    """Sample the batches in order until the deadline, on the scan's session and, when the
    policy allows more than one connection, on that many more sessions opened the same
    hardened way (PgSession.open). Tables whose batch never started are left out."""
    done: dict[int, Outcome] = {}
    extra = max(0, min(policy.sample_connections - 1, len(batches) - 1))
    if extra == 0:
        # One connection: the next batches are read while this one is analysed (the server's
        # time and the analysis overlap; the session is only ever used by the reader). Two
        # batches are kept ahead: with one, the reader stopped at every batch until the
        # analysis caught up, and the server's time and the analysis added up instead of
        # overlapping whenever a batch read faster than the one before it was analysed.
        with cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sampler") as reader:
            pending: deque[cf.Future[Fetched]] = deque()
            queued = 0

            def read_ahead() -> None:
                nonlocal queued
                while (
                    len(pending) < READ_AHEAD
                    and queued < len(batches)
                    and time.monotonic() <= deadline
                ):
                    pending.append(reader.submit(_fetch, session, batches[queued], wanted, seed))
                    queued += 1

            read_ahead()
            k = 0
            while pending:
                fetched = pending.popleft().result()
                read_ahead()
                done.update(_summarise_batch(batches[k], fetched))
                del fetched
                k += 1
        return done
    queue = iter(batches)
    lock = threading.Lock()

    def work(own: PgSession) -> None:
        while True:
            with lock:
                if time.monotonic() > deadline:
                    return
                batch = next(queue, None)
            if batch is None:
                return
            found = _sample_batch(own, batch, wanted, seed)
            with lock:
                done.update(found)

    sessions: list[PgSession] = []
    try:
        for _ in range(extra):
            try:
                sessions.append(PgSession.open(ctx))
            except Exception:  # fewer connections, not a failed scan
                break
        with cf.ThreadPoolExecutor(max_workers=len(sessions) + 1) as pool:
            futures = [pool.submit(work, own) for own in [session, *sessions]]
            for future in futures:
                future.result()
    finally:
        for own in sessions:
            own.close()
    return done


def _sample_batch(session: PgSession, batch: Batch, wanted: int, seed: int) -> dict[int, Outcome]:
    return _summarise_batch(batch, _fetch(session, batch, wanted, seed))


# Per table of a batch: how its rows were chosen and its non-null values by column position,
# or a one-line error.
Fetched = dict[int, tuple[str, dict[int, list[Any]]] | str]


def _fetch(session: PgSession, batch: Batch, wanted: int, seed: int) -> Fetched:
    """One statement for the whole batch; when it fails (a table's privilege, lock or row
    security), each table again on its own so that the error is named for its table."""
    try:
        return _read_batch(session, batch, wanted, seed)
    except Exception as exc:
        if len(batch) == 1:
            return {batch[0][0]: safe_error_text(exc)}
    out: Fetched = {}
    for item in batch:
        out.update(_fetch(session, [item], wanted, seed))
    return out


def _summarise_batch(batch: Batch, fetched: Fetched) -> dict[int, Outcome]:
    out: dict[int, Outcome] = {}
    for index, table, columns in batch:
        got = fetched[index]
        if isinstance(got, str):
            out[index] = got
            continue
        method, values = got
        out[index] = [
            _summarise(table, col, values.pop(i, []), method) for i, col in enumerate(columns)
        ]
    return out


def _read_batch(session: PgSession, batch: Batch, wanted: int, seed: int) -> Fetched:
    """Read every table of the batch in one UNION ALL statement, one row per table: its
    sampled text heads as a two-dimensional text array (one inner array per column, NULLs
    kept so that the inner arrays are the same length) and its bytea heads likewise, read
    in binary. A Python row per value cost more of the scanner's CPU than the server's work;
    an unpivot (one row per value) also cost the planner twice as much per table."""
    # Built as plain text (names through quote_ident, numbers formatted here): composing
    # thousands of psycopg sql objects cost more than the server's work.
    parts: list[str] = []
    methods: dict[int, str] = {}
    # Per table: the column positions whose values are in the text array, then the bytea one.
    layout: dict[int, tuple[list[int], list[int]]] = {}
    for index, table, columns in batch:
        exprs = []
        texts: list[int] = []
        blobs: list[int] = []
        for i, col in enumerate(columns):
            ident = quote_ident(col.name)
            head = STRUCTURED_HEAD_CHARS if col.kind == "structured" else TEXT_HEAD_CHARS
            if col.is_bytea:
                exprs.append(f"pg_catalog.substr({ident}, 1, {int(BYTEA_HEAD_BYTES)}) AS c{i}")
                blobs.append(i)
            elif col.plain_text:
                # text, or varchar (binary-coercible to text: no function runs); NULL stays NULL.
                exprs.append(f"pg_catalog.left({ident}, {int(head)}) AS c{i}")
                texts.append(i)
            else:
                # format('%s') renders through the type's output function: a `::text` cast
                # could call a CREATE CAST function of the table owner's.
                # format('%s', NULL) is '': keep NULLs NULL.
                exprs.append(
                    f"CASE WHEN {ident} IS NULL THEN NULL "
                    f"ELSE pg_catalog.left(pg_catalog.format('%s', {ident}), {int(head)}) END "
                    f"AS c{i}"
                )
                texts.append(i)
        layout[index] = (texts, blobs)
        pct, method = sample_plan(
            table.estimated_rows, wanted, table.total_bytes, seed, table.pages
        )
        if pct is not None:
            rows_from = (
                f" TABLESAMPLE pg_catalog.system ({round(pct, 6)!r}) REPEATABLE ({int(seed)})"
            )
        else:
            rows_from = " ORDER BY pg_catalog.random()"
        if table.children:
            # ONLY: a parent's own rows; its children and partitions are sampled on their own.
            method += f" (ONLY the table's own rows; {table.children} child tables sampled apart)"
        methods[index] = method
        parts.append(
            f"(SELECT {int(index)}::pg_catalog.int4 AS t, "
            f"{_array_of(texts, 'text')} AS txt, {_array_of(blobs, 'bytea')} AS bin "
            f"FROM (SELECT {', '.join(exprs)} "
            f"FROM ONLY {quote_ident(table.schema)}.{quote_ident(table.name)}{rows_from} "
            f"LIMIT {int(wanted)}) r)"
        )
    # A plain SELECT at the top (the server log shows a read, as for every other statement).
    query = f"SELECT t, txt, bin FROM ({' UNION ALL '.join(parts)}) batch"
    rows = _read_stored_rows(session, query, seed)
    values: dict[int, dict[int, list[Any]]] = {index: {} for index, _, _ in batch}
    for t, txt, bin_ in rows:
        texts, blobs = layout[t]
        for positions, arrays in ((texts, txt), (blobs, bin_)):
            for i, column in zip(positions, arrays or (), strict=False):
                values[t][i] = [v for v in column if v is not None]
    del rows
    return {index: (methods[index], values[index]) for index, _, _ in batch}


def _array_of(positions: list[int], type_name: str) -> str:
    """The sampled values of these columns as a two-dimensional array (NULL when none)."""
    if not positions:
        return f"NULL::pg_catalog.{type_name}[]"
    return "ARRAY[" + ", ".join(f"pg_catalog.array_agg(r.c{i})" for i in positions) + "]"


def _rls(row: dict[str, Any], bypass: bool) -> str | None:
    """How row-level security filters the scanner's view of a table (None: it does not).
    Superusers and BYPASSRLS roles are never filtered; the owner only when it is FORCEd."""
    if not row["relrowsecurity"] or bypass:
        return None
    if row["relforcerowsecurity"]:
        return "forced"
    return None if row["owns"] else "enabled"


def _read_stored_rows(session: PgSession, query: str, seed: int) -> list[tuple[Any, ...]]:
    """Run a sampling query with row security off for its transaction: a table whose
    row-level security would filter (and run policy expressions for) the scanner then
    raises an error instead of silently returning only the rows the policy lets through.
    The scan's seed drives random() for the random row order.

    Text comes in UTF-8 through psycopg's own (compiled) loader: the session's lenient one
    is a Python call per value, and the sampled values are most of what a scan reads. A
    UTF8 server checks text as it is stored, so only a damaged value (or one stored before
    the server checked) fails to decode; then the batch is read again, leniently."""
    if session.conn.info.encoding == "utf-8":
        try:
            return _sampling_rows(session, query, seed, strict_text=True)
        except UnicodeDecodeError:
            pass
    return _sampling_rows(session, query, seed, strict_text=False)


def _sampling_rows(
    session: PgSession, query: str, seed: int, *, strict_text: bool
) -> list[tuple[Any, ...]]:
    with session.conn.transaction(), session.conn.cursor(row_factory=tuple_row) as cur:
        if strict_text:
            # psycopg swaps in its compiled loader when psycopg[binary] is installed.
            cur.adapters.register_loader("text", TextBinaryLoader)
        # Both in one round trip (this runs once per batch): set_config(..., true) is
        # SET LOCAL.
        cur.execute(
            "SELECT pg_catalog.set_config('row_security', 'off', true), pg_catalog.setseed(%s)",
            (seed / (2**31 - 1),),
        )
        cur.execute(query, binary=True)
        return list(cur.fetchall())


def _summarise(table: _Table, col: _Column, values: list[Any], method: str) -> ColumnSample:
    # Plain dicts: a Counter() costs a Python-level __init__, and there are seven per column.
    encodings: dict[str, int] = {}
    ciphers: dict[str, int] = {}
    modes: dict[str, int] = {}
    digests: dict[str, int] = {}
    integrity: dict[str, int] = {}
    pii_counts: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    openpgp = exposed = key_like = 0
    min_count: int | None = None
    key_store = not col.declared and (pii.key_like_name(col.name) or pii.key_like_name(table.name))
    # Messages are counted by their header reading (few distinct ones per column, shared
    # objects: counted by identity, a frozen dataclass hashes all its fields on every use)
    # and the per-field tallies made once per reading, not once per value: this loop runs
    # for every sampled value of the database, so its names are bound locally.
    readings: dict[int, tuple[pgp.PgpMessage, int]] = {}
    shapes: dict[str, int] = {}
    inspect, analyse = pgp.inspect_value, pii.analyse
    for value in values:
        try:
            message = inspect(value)
        except Exception:  # malformed input must not stop the column (nor show the value)
            message = None
        if message is not None:
            seen_reading = readings.get(id(message))
            readings[id(message)] = (message, seen_reading[1] + 1 if seen_reading else 1)
            continue
        label, matches = analyse(value)
        shapes[label] = shapes.get(label, 0) + 1
        if key_store and isinstance(value, str) and pii.key_like_value(value):
            key_like += 1
            continue  # key material: no masked "example" of it may reach the evidence
        if col.declared:
            continue
        # Text was searched once already for its shape; other kinds are searched their way.
        plain_text = isinstance(value, str) and col.kind != "inet"
        for match in matches if plain_text else _personal_data(col, value):
            pii_counts[match.kind] = pii_counts.get(match.kind, 0) + 1
            seen = examples.setdefault(match.kind, [])
            if match.masked not in seen and len(seen) < EXAMPLES_PER_KIND:
                seen.append(match.masked)
    for message, n in readings.values():
        openpgp += n
        for tally, key in (
            (encodings, message.encoding),
            (ciphers, message.cipher),
            (modes, message.s2k_mode),
            (digests, message.s2k_digest),
            (integrity, message.integrity),
        ):
            tally[key] = tally.get(key, 0) + n
        exposed += n * message.plaintext_exposed
        if message.s2k_count is not None:
            min_count = (
                message.s2k_count if min_count is None else min(min_count, message.s2k_count)
            )
    total = len(values)
    return ColumnSample(
        schema_name=table.schema,
        table=table.name,
        column=col.name,
        data_type=col.data_type,
        declared=col.declared,
        declared_as=col.declared_as,
        audit_trail=col.audit_trail,
        estimated_rows=table.estimated_rows,
        method=method,
        sampled=total,
        openpgp=openpgp,
        encodings=encodings,
        ciphers=ciphers,
        s2k_modes=modes,
        s2k_digests=digests,
        min_s2k_count=min_count,
        integrity=integrity,
        plaintext_exposed=exposed,
        shapes=shapes,
        key_like=key_like,
        pii=tuple(
            PiiSummary(
                kind=k, count=n, fraction=round(n / total, 4), examples=tuple(sorted(examples[k]))
            )
            for k, n in sorted(pii_counts.items())
        ),
    )


def _personal_data(col: _Column, value: Any) -> list[pii.Match]:
    """The personal data in one sampled value: an inet/cidr host address is one; text,
    structured values (rendered as text) and the readable text of bytea are searched."""
    if col.kind == "inet":
        host = pii.host_address(str(value))
        return [pii.Match(pii.IP, pii.mask_ip(host))] if host else []
    if isinstance(value, bytes | bytearray | memoryview):
        text = bytes(value).decode("utf-8", "ignore")
    else:
        text = str(value)
    return pii.find_pii(text)
