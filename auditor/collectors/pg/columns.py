"""Column facts: what the declared sensitive columns really hold (OpenPGP headers, cipher,
S2K, integrity) and which other text-like columns hold plaintext personal data.

Sampling stays cheap on big tables: one query per table reads at most
`policy.sample_rows_per_column` rows, through `TABLESAMPLE SYSTEM` (whole random pages, so
the cost follows the sample size, not the table size) with a percentage sized from
`reltuples`; small tables are read with a plain LIMIT. Only the head of each value is
fetched. Tables are visited until `policy.sample_budget_seconds` runs out, declared columns
first; what was left out is recorded.

Sampled values live only in this module's local variables: the facts hold counts, labels
(cipher names, shapes, PII kinds) and masked examples, never a value.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql
from pydantic import BaseModel, ConfigDict

from auditor import pgp, pii
from auditor.collectors.base import CollectContext
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

# Characters of a text value and bytes of a bytea value worth reading (headers, PII).
TEXT_HEAD_CHARS = 1024
BYTEA_HEAD_BYTES = pgp.HEAD_BYTES
# Below this many estimated rows per wanted row, a LIMIT read is as cheap as a sample.
SMALL_TABLE_FACTOR = 20
# TABLESAMPLE picks pages, and NULLs or dead tuples thin them out: ask for a few times more.
OVERSAMPLE = 4
EXAMPLES_PER_KIND = 3
USER_TABLES_FILTER = """
    n.nspname NOT IN ('pg_catalog', 'information_schema', 'timescaledb_information',
                      'timescaledb_experimental')
    AND n.nspname !~ '^(pg_toast|pg_temp_|_timescaledb)'
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
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
    samples: tuple[ColumnSample, ...]
    rows_per_column: int
    # declared column -> why it was not sampled (missing, or the exact GRANT)
    declared_problems: dict[str, str] = {}
    # table -> the GRANT that would let the scan read it
    unreadable: dict[str, str] = {}
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


@dataclass
class _Table:
    oid: int
    schema: str
    name: str
    reltuples: float
    pages: int
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


def sample_plan(estimated_rows: int, wanted: int) -> tuple[float | None, str]:
    """The TABLESAMPLE SYSTEM percentage for a table (None: read with a plain LIMIT)."""
    if estimated_rows <= wanted * SMALL_TABLE_FACTOR:
        return None, f"LIMIT {wanted}"
    pct = min(100.0, max(0.0001, 100.0 * wanted * OVERSAMPLE / estimated_rows))
    return pct, f"TABLESAMPLE SYSTEM ({pct:.4f}%) LIMIT {wanted}"


class ColumnCollector(SessionCollector):
    model = ColumnFacts
    order = 30

    def collect(self, session: PgSession, ctx: CollectContext) -> ColumnFacts:
        started = time.monotonic()
        policy = _policy(ctx)
        wanted = policy.sample_rows_per_column
        who = session.rows(
            "SELECT current_user AS u, current_setting('server_version_num')::int AS v, "
            "(SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pgcrypto') AS pc"
        )[0]
        role = who["u"]
        declared = tuple(getattr(ctx.target, "sensitive_columns", ()))
        tables, declared_problems = self._tables(session, declared, role)

        samples: list[ColumnSample] = []
        unreadable: dict[str, str] = {}
        errors: dict[str, str] = {}
        not_sampled: list[str] = []
        for table in tables:
            readable = [c for c in table.columns if c.readable]
            if len(readable) < len(table.columns):
                unreadable[table.display] = grant_select(role, table.schema, table.name)
                for col in table.columns:
                    if col.declared and not col.readable:
                        declared_problems[relation_name(table.schema, table.name, col.name)] = (
                            f"no SELECT privilege: {unreadable[table.display]}"
                        )
            if not readable:
                continue
            if time.monotonic() - started > policy.sample_budget_seconds:
                not_sampled.append(table.display)
                continue
            try:
                samples.extend(self._sample(session, table, readable, wanted))
            except Exception as exc:  # one table's failure never stops the others
                errors[table.display] = safe_error_text(exc)

        return ColumnFacts(
            current_user=role,
            server_version_num=who["v"],
            pgcrypto_version=who["pc"],
            declared=declared,
            samples=tuple(samples),
            rows_per_column=wanted,
            declared_problems=declared_problems,
            unreadable=unreadable,
            errors=errors,
            not_sampled=tuple(not_sampled),
            budget_seconds=policy.sample_budget_seconds,
            elapsed_seconds=round(time.monotonic() - started, 3),
        )

    # -- which tables and columns ------------------------------------------------------------

    def _tables(
        self, session: PgSession, declared: tuple[str, ...], role: str
    ) -> tuple[list[_Table], dict[str, str]]:
        problems: dict[str, str] = {}
        wanted: dict[int, set[str]] = {}
        for item in declared:
            try:
                schema, table, column = column_spec(item)
            except IdentError as exc:  # the config validator refuses these; facts may not
                problems[item] = str(exc)
                continue
            name = qualified(schema, table)
            item = relation_name(schema, table, column)  # one spelling for each column
            found = session.rows(
                "SELECT c.oid, a.attname FROM pg_catalog.pg_class c "
                "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid "
                "  AND a.attname = %s AND a.attnum > 0 AND NOT a.attisdropped "
                "WHERE c.oid = pg_catalog.to_regclass(%s)",
                (column, name),
            )
            if not found:
                problems[item] = f"table {relation_name(schema, table)} not found"
            elif found[0]["attname"] is None:
                problems[item] = (
                    f"table {relation_name(schema, table)} has no column {quote_ident(column)}"
                )
            else:
                wanted.setdefault(found[0]["oid"], set()).add(column)

        rows = session.rows(
            f"""SELECT c.oid, n.nspname, c.relname, c.reltuples::float8 AS reltuples,
                       (pg_catalog.pg_relation_size(c.oid)
                        / current_setting('block_size')::int)::bigint AS pages,
                       a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
                       a.atttypid = 'bytea'::regtype AS is_bytea,
                       (t.typcategory = 'S' OR t.typname IN ('json', 'jsonb')) AS text_like,
                       pg_catalog.has_column_privilege(c.oid, a.attnum, 'SELECT') AS readable
                FROM pg_catalog.pg_class c
                JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
                     AND a.attnum > 0 AND NOT a.attisdropped
                JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
                WHERE (c.relkind IN ('r', 'm') AND {USER_TABLES_FILTER})
                   OR c.oid = ANY(%s::oid[])
                ORDER BY n.nspname, c.relname, a.attnum""",
            (list(wanted),),
        )
        tables: dict[int, _Table] = {}
        for r in rows:
            is_declared = r["attname"] in wanted.get(r["oid"], set())
            if not (is_declared or r["text_like"]):
                continue
            entry = tables.get(r["oid"])
            if entry is None:
                entry = tables[r["oid"]] = _Table(
                    r["oid"], r["nspname"], r["relname"], r["reltuples"], r["pages"]
                )
            entry.columns.append(
                _Column(
                    r["attname"], r["type"], bool(r["is_bytea"]), is_declared, bool(r["readable"])
                )
            )
        # Tables holding declared columns first: they matter most if the budget runs out.
        ordered = sorted(tables.values(), key=lambda t: (t.oid not in wanted, t.schema, t.name))
        return ordered, problems

    # -- sampling and analysis ---------------------------------------------------------------

    def _sample(
        self, session: PgSession, table: _Table, columns: list[_Column], wanted: int
    ) -> list[ColumnSample]:
        exprs = []
        for i, col in enumerate(columns):
            ident = sql.Identifier(col.name)
            if col.is_bytea:
                expr = sql.SQL("substring({} FROM 1 FOR {})").format(
                    ident, sql.Literal(BYTEA_HEAD_BYTES)
                )
            else:
                expr = sql.SQL("left({}::text, {})").format(ident, sql.Literal(TEXT_HEAD_CHARS))
            exprs.append(sql.SQL("{} AS {}").format(expr, sql.Identifier(f"c{i}")))
        pct, method = sample_plan(table.estimated_rows, wanted)
        sampling: sql.Composable = sql.SQL("")
        if pct is not None:
            # REPEATABLE keeps repeated scans of an unchanged table comparable.
            sampling = sql.SQL(" TABLESAMPLE SYSTEM ({}) REPEATABLE (7)").format(
                sql.Literal(round(pct, 6))
            )
        query = sql.SQL("SELECT {} FROM {}.{}{} LIMIT {}").format(
            sql.SQL(", ").join(exprs),
            sql.Identifier(table.schema),
            sql.Identifier(table.name),
            sampling,
            sql.Literal(wanted),
        )
        rows = session.rows(query.as_string(session.conn))
        out = []
        for i, col in enumerate(columns):
            values = [r[f"c{i}"] for r in rows if r[f"c{i}"] is not None]
            out.append(_summarise(table, col, values, method))
            del values
        del rows
        return out


def _summarise(table: _Table, col: _Column, values: list[Any], method: str) -> ColumnSample:
    encodings: Counter[str] = Counter()
    ciphers: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    digests: Counter[str] = Counter()
    integrity: Counter[str] = Counter()
    shapes: Counter[str] = Counter()
    pii_counts: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    openpgp = exposed = 0
    min_count: int | None = None
    for value in values:
        try:
            message = pgp.inspect_value(value)
        except Exception:  # malformed input must not stop the column (nor show the value)
            message = None
        if message is not None:
            openpgp += 1
            encodings[message.encoding] += 1
            ciphers[message.cipher] += 1
            modes[message.s2k_mode] += 1
            digests[message.s2k_digest] += 1
            integrity[message.integrity] += 1
            exposed += message.plaintext_exposed
            if message.s2k_count is not None:
                min_count = (
                    message.s2k_count if min_count is None else min(min_count, message.s2k_count)
                )
            continue
        shapes[pii.shape(value)] += 1
        if col.declared or col.is_bytea or not isinstance(value, str):
            continue
        for match in pii.find_pii(value):
            pii_counts[match.kind] += 1
            seen = examples.setdefault(match.kind, [])
            if match.masked not in seen and len(seen) < EXAMPLES_PER_KIND:
                seen.append(match.masked)
    total = len(values)
    return ColumnSample(
        schema_name=table.schema,
        table=table.name,
        column=col.name,
        data_type=col.data_type,
        declared=col.declared,
        estimated_rows=table.estimated_rows,
        method=method,
        sampled=total,
        openpgp=openpgp,
        encodings=dict(encodings),
        ciphers=dict(ciphers),
        s2k_modes=dict(modes),
        s2k_digests=dict(digests),
        min_s2k_count=min_count,
        integrity=dict(integrity),
        plaintext_exposed=exposed,
        shapes=dict(shapes),
        pii=tuple(
            PiiSummary(
                kind=k, count=n, fraction=round(n / total, 4), examples=tuple(sorted(examples[k]))
            )
            for k, n in sorted(pii_counts.items())
        ),
    )
