"""Catalog reads at 10,000 tables against 1,000 tables, and the former single-query column
inventory as the baseline of the same run.

Builds two databases of empty tables (each with a default, text, bytea, jsonb and a
domain-typed column) in a throwaway lab cluster with autovacuum off (catalog statistics as
a fresh, busy database has them), then times every session collector with sampling left out
(a tiny budget): what a scan spends reading the catalog. The former inventory query (one
statement joining pg_class, pg_attribute and pg_type three times) is timed on the same
databases for contrast. Medians of N runs.

Run: .venv/bin/python benchmarks/catalog_scale.py [--repeat N] [--big N] [--small N]
Exits 1 when 10,000 tables cost more than 15x 1,000 tables (linear is ~10x).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from auditor.collectors.base import CollectContext
from auditor.collectors.pg.columns import USER_TABLES_FILTER
from auditor.collectors.pg.session import PgSession
from auditor.collectors.postgres import session_collectors
from auditor.config import parse_config
from auditor.lab.cluster import Cluster, Variant
from auditor.policy import Policy

PASSWORD = "bench-auditor-pw"  # a throwaway cluster's role, not a secret
MAX_RATIO = 15.0
MAKE_TABLES = """
CREATE DOMAIN note_text AS text;
DO $$ BEGIN
  FOR i IN 1..{count} LOOP
    EXECUTE pg_catalog.format(
      'CREATE TABLE t%s (id int DEFAULT 0, email text, blob bytea, doc jsonb, note note_text)',
      i);
  END LOOP;
END $$;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO auditor;
"""
# The column inventory as it was before it was split into linear reads (for contrast only).
FORMER_QUERY = """
SELECT c.oid, n.nspname, c.relname, c.reltuples::pg_catalog.float8 AS reltuples,
                       (pg_catalog.pg_relation_size(c.oid)
                        / pg_catalog.current_setting('block_size')::int)::bigint AS pages,
                       pg_catalog.pg_table_size(c.oid) AS total_bytes,
                       (SELECT pg_catalog.count(*) FROM pg_catalog.pg_inherits i
                        WHERE i.inhparent = c.oid) AS children,
                       a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
                       CASE WHEN bt.typname = 'bytea' AND bt.typnamespace = n_cat.oid
                                 THEN 'bytea'
                            WHEN bt.typcategory = 'S' THEN 'text'
                            WHEN bt.typname IN ('json', 'jsonb', 'xml')
                                 AND bt.typnamespace = n_cat.oid THEN 'structured'
                            WHEN bt.typcategory = 'I' THEN 'inet'
                            WHEN bt.typtype = 'c' THEN 'structured'
                            WHEN et.typcategory IN ('S', 'I') OR et.typtype = 'c'
                                 OR et.typname IN ('json', 'jsonb', 'xml') THEN 'structured'
                       END AS sample_kind,
                       pg_catalog.has_column_privilege(c.oid, a.attnum, 'SELECT') AS readable,
                       pg_catalog.has_schema_privilege(n.oid, 'USAGE') AS schema_usable,
                       c.relrowsecurity, c.relforcerowsecurity,
                       pg_catalog.pg_has_role(c.relowner, 'USAGE') AS owns
                FROM pg_catalog.pg_class c
                JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
                     AND a.attnum > 0 AND NOT a.attisdropped
                JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
                JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd'
                     THEN t.typbasetype ELSE t.oid END
                LEFT JOIN pg_catalog.pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A'
                CROSS JOIN (SELECT oid FROM pg_catalog.pg_namespace
                            WHERE nspname = 'pg_catalog') n_cat
                WHERE c.relkind IN ('r', 'm')
                  AND ({USER_TABLES_FILTER} OR c.oid = ANY(%s::pg_catalog.oid[]))
                ORDER BY n.nspname, c.relname, a.attnum
"""


def context(cluster: Cluster, count: int) -> CollectContext:
    text = (
        f"targets:\n  - name: t{count}\n"
        f"    dsn: '{cluster.dsn('auditor', dbname=f'tables_{count}')}'\n"
        "    tls_probe: false\n    statement_timeout_ms: 600000\n"
    )
    target = parse_config(text, "bench.yaml").targets[0]
    return CollectContext(
        target=target,
        password=PASSWORD,
        config_dir=Path.cwd(),
        policy=Policy(sample_budget_seconds=1e-6),
    )


def catalog_seconds(ctx: CollectContext) -> float:
    session = PgSession.open(ctx)
    try:
        started = time.perf_counter()
        for sub in session_collectors():
            sub.collect(session, ctx)
        return time.perf_counter() - started
    finally:
        session.close()


def former_seconds(ctx: CollectContext) -> float:
    session = PgSession.open(ctx)
    try:
        query = FORMER_QUERY.replace("{USER_TABLES_FILTER}", USER_TABLES_FILTER)
        started = time.perf_counter()
        session.rows(query, ([],))
        return time.perf_counter() - started
    finally:
        session.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--big", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-former", action="store_true", help="skip the former query")
    args = parser.parse_args()
    cluster = Cluster(
        Variant(
            name="bench-catalog",
            settings="max_locks_per_transaction = 1024\nautovacuum = off\n",
            hba="host all all 127.0.0.1/32 scram-sha-256\n",
            seed_sql=f"CREATE ROLE auditor LOGIN PASSWORD '{PASSWORD}';",
            tls=None,
        )
    ).start()
    try:
        medians: dict[int, float] = {}
        for count in (args.small, args.big):
            started = time.monotonic()
            with cluster.admin_connection("postgres", autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE tables_{count}")
            with cluster.admin_connection(f"tables_{count}", autocommit=True) as conn:
                conn.execute(MAKE_TABLES.replace("{count}", str(count)).encode())
            print(f"built {count:,} tables in {time.monotonic() - started:.1f} s", flush=True)
        for count in (args.small, args.big):
            ctx = context(cluster, count)
            catalog_seconds(ctx)  # warm the server's caches
            runs = [catalog_seconds(ctx) for _ in range(args.repeat)]
            medians[count] = statistics.median(runs)
            line = f"{count:>6,} tables: catalog reads median {medians[count]:.2f} s"
            if not args.no_former:
                former = statistics.median(former_seconds(ctx) for _ in range(args.repeat))
                line += f"; former inventory query alone {former:.2f} s"
            print(line, flush=True)
        ratio = medians[args.big] / medians[args.small]
        within = ratio <= MAX_RATIO
        print(
            f"catalog reads {args.big:,} / {args.small:,} tables: {ratio:.2f}x "
            f"(linear ~{args.big / args.small:g}x; target <= {MAX_RATIO:g}x): "
            f"{'OK' if within else 'OVER TARGET'}"
        )
    finally:
        cluster.stop()
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
