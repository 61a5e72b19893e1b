"""Cost of column sampling on a 10,000-row table versus a 10,000,000-row table.

Starts a throwaway lab cluster, builds the same schema in two databases (one declared
sensitive column holding pgcrypto ciphertext, one undeclared text column holding emails, an
innocent SKU column), fills one with 10k rows and the other with 10M rows of cheap data
(the ciphertext is one `s2k-mode=1` message repeated, so generation takes seconds, not
hours), then times the column collector on each. The acceptance target is that the big table
costs at most 2x the small one. A full count(*) of the big table is printed for contrast.

Run: .venv/bin/python benchmarks/sampling.py [--big-rows N] [--repeat N] [--max-ratio R]
Needs the PostgreSQL server binaries (as the tests do); takes about a minute.
Exits 1 when the big/small cost ratio exceeds --max-ratio (default 2.0), 0 otherwise.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from auditor.collectors.base import CollectContext
from auditor.collectors.pg.columns import ColumnCollector, ColumnFacts
from auditor.collectors.pg.session import PgSession
from auditor.config import parse_config
from auditor.lab.cluster import Cluster, Variant

PASSWORD = "bench-auditor-pw"  # a throwaway cluster's role, not a secret
SCHEMA = """
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE TABLE users (id bigint, email_enc text, contact text, sku text);
"""
FILL = """
INSERT INTO users
SELECT g, m.ct, 'user' || g || '@example.com', 'SKU-' || lpad((g % 99999)::text, 5, '0')
FROM generate_series(1, {rows}) g,
     (SELECT encode(pgp_sym_encrypt('someone@example.com', 'bench-key',
                    'cipher-algo=aes256, s2k-mode=1'), 'base64') AS ct) m
"""


def build(cluster: Cluster, dbname: str, rows: int) -> float:
    started = time.monotonic()
    with cluster.admin_connection("postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    with cluster.admin_connection(dbname, autocommit=True) as conn:
        conn.execute(SCHEMA)
        conn.execute(FILL.replace("{rows}", str(int(rows))).encode())
        conn.execute("VACUUM ANALYZE users")
        conn.execute("GRANT SELECT ON users TO auditor")
    return time.monotonic() - started


def collect_seconds(cluster: Cluster, dbname: str, repeat: int) -> tuple[list[float], ColumnFacts]:
    text = (
        "targets:\n"
        f"  - name: bench\n    dsn: '{cluster.dsn('auditor', dbname=dbname)}'\n"
        "    sensitive_columns: [users.email_enc]\n    tls_probe: false\n"
    )
    target = parse_config(text, "bench.yaml").targets[0]
    ctx = CollectContext(target=target, password=PASSWORD, config_dir=Path.cwd())
    timings: list[float] = []
    facts: ColumnFacts | None = None
    for _ in range(repeat):
        session = PgSession.open(ctx)
        try:
            started = time.perf_counter()
            facts = ColumnCollector().collect(session, ctx)
            timings.append(time.perf_counter() - started)
        finally:
            session.close()
    assert facts is not None
    return timings, facts


TARGET_RATIO = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small-rows", type=int, default=10_000)
    parser.add_argument("--big-rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--max-ratio",
        type=float,
        default=TARGET_RATIO,
        help="fail (exit 1) when big/small collection cost exceeds this (default 2.0)",
    )
    args = parser.parse_args()

    variant = Variant(
        name="bench-sampling",
        settings="shared_buffers = 32MB\n",
        seed_sql=f"CREATE ROLE auditor LOGIN PASSWORD '{PASSWORD}' IN ROLE pg_monitor;",
    )
    cluster = Cluster(variant).start()
    try:
        for label, db, rows in (
            ("small", "bench_small", args.small_rows),
            ("big", "bench_big", args.big_rows),
        ):
            print(f"building {label}: {rows:,} rows ... {build(cluster, db, rows):.1f} s")
        results = {}
        for label, db in (("small", "bench_small"), ("big", "bench_big")):
            timings, facts = collect_seconds(cluster, db, args.repeat)
            results[label] = statistics.median(timings)
            sample = facts.sample("users.contact")
            assert sample is not None
            print(
                f"{label:>5}: median {results[label] * 1000:.1f} ms over {args.repeat} runs "
                f"(min {min(timings) * 1000:.1f}, max {max(timings) * 1000:.1f}); "
                f"{sample.sampled} values/column via {sample.method}; "
                f"estimated rows {sample.estimated_rows:,}"
            )
        with cluster.admin_connection("bench_big") as conn:
            started = time.perf_counter()
            conn.execute("SELECT count(*) FROM users").fetchone()
            full = time.perf_counter() - started
        ratio = results["big"] / results["small"]
        print(f"full count(*) of the big table, for contrast: {full * 1000:.0f} ms")
        within = ratio <= args.max_ratio
        print(
            f"cost ratio {args.big_rows:,} rows / {args.small_rows:,} rows: {ratio:.2f}x "
            f"(median {results['big'] * 1000:.1f} ms / {results['small'] * 1000:.1f} ms; "
            f"target <= {args.max_ratio:g}x): {'OK' if within else 'OVER TARGET'}"
        )
    finally:
        cluster.stop()
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
