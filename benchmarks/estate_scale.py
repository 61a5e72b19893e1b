"""Full scan of a 10,000-table database against a 1,000-table one, every table sampled.

Starts a throwaway lab cluster (TLS on, so the scan probes it too) and builds two databases
of small tables: every tenth table holds plaintext e-mail addresses in an undeclared column,
the others pgcrypto ciphertext (a distinct armored message per row; the tables copy the same
20 rows, so generation takes seconds) and a harmless SKU column; two columns are declared
sensitive. Each scan runs `run_scan` with the default policy (20 s sampling budget, one
connection) in its own process, so that its peak resident memory is its own. Prints wall
time, peak RSS, tables sampled and the ratio to the 1,000-table scan of the same run.

Run: .venv/bin/python benchmarks/estate_scale.py [--repeat N] [--big N] [--small N]
Needs the PostgreSQL server binaries (as the tests do); building takes 1-2 minutes.
Exits 1 when the big scan is over 30 s, over 300 MB peak RSS, over 5x the small scan, or
leaves any table unsampled.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from auditor.lab.cluster import Cluster, Variant

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-auditor-pw"  # a throwaway cluster's role, not a secret
MAX_SECONDS = 30.0
MAX_RSS_MB = 300.0
MAX_RATIO = 5.0
ROWS_PER_TABLE = 20
BUILD = """
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE TABLE seed_plain AS
  SELECT g AS id, 'person' || g || '@example.org' AS contact, 'SKU-' || g AS sku
  FROM generate_series(1, {rows}) g;
CREATE TABLE seed_cipher AS
  SELECT g AS id,
         armor(pgp_sym_encrypt('someone' || g || '@example.org', 'bench-key',
                               'cipher-algo=aes256')) AS contact,
         'SKU-' || g AS sku
  FROM generate_series(1, {rows}) g;
CREATE TABLE customers AS SELECT id, m.ct AS email, sku FROM seed_cipher,
       (SELECT armor(pgp_sym_encrypt('a@example.org', 'bench-key',
                                     'cipher-algo=aes256')) AS ct) m;
"""
MAKE_TABLES = """
DO $$ BEGIN
  FOR i IN 1..{count} LOOP
    IF i % 10 = 0 THEN
      EXECUTE format('CREATE TABLE t%s AS SELECT * FROM seed_plain', i);
    ELSE
      EXECUTE format('CREATE TABLE t%s AS SELECT * FROM seed_cipher', i);
    END IF;
  END LOOP;
END $$
"""
GRANT = "GRANT SELECT ON ALL TABLES IN SCHEMA public TO auditor"


def build(cluster: Cluster, count: int) -> float:
    started = time.monotonic()
    db = f"estate_{count}"
    with cluster.admin_connection("postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {db}")
    with cluster.admin_connection(db, autocommit=True) as conn:
        conn.execute(BUILD.replace("{rows}", str(ROWS_PER_TABLE)).encode())
        conn.execute(MAKE_TABLES.replace("{count}", str(count)).encode())
        conn.execute(GRANT)
        conn.execute("ANALYZE")
    return time.monotonic() - started


def scan_in_child(dsn: str, connections: int) -> dict[str, float]:
    """Run one scan in a fresh interpreter; its wall time and peak RSS (from wait4)."""
    env = {**os.environ, "BENCH_PW": PASSWORD, "BENCH_DSN": dsn, "BENCH_CONN": str(connections)}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child"], env=env, stdout=subprocess.PIPE, cwd=ROOT
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"scan child failed (status {status})")
    report: dict[str, float] = json.loads(out)
    report["process_seconds"] = time.perf_counter() - started
    report["rss_mb"] = usage.ru_maxrss / 1024  # kilobytes on Linux
    return report


def child() -> None:
    from auditor.collectors.pg.columns import ColumnFacts
    from auditor.config import parse_config
    from auditor.model import Status
    from auditor.runner import run_scan

    text = (
        f"policy:\n  sample_connections: {int(os.environ['BENCH_CONN'])}\n"
        "targets:\n  - name: estate\n"
        f"    dsn: '{os.environ['BENCH_DSN']}'\n"
        "    password: {env: BENCH_PW}\n"
        "    sensitive_columns: [customers.email, t1.contact]\n"
    )
    config = parse_config(text, "bench.yaml")
    started = time.perf_counter()
    results, bundles = run_scan(config, ROOT)
    seconds = time.perf_counter() - started
    columns = bundles[0].get(ColumnFacts)
    tables = {(s.schema_name, s.table) for s in columns.samples}
    failed_pii = [
        r
        for r in results.findings
        if r.check_id == "column.plaintext_pii" and r.status is Status.FAIL
    ]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "tables_sampled": len(tables),
                "not_sampled": len(columns.not_sampled),
                "errors": len(columns.errors),
                "pii_findings": len(failed_pii),
                "sampling_seconds": columns.elapsed_seconds,
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--big", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--connections", type=int, default=1, help="policy sample_connections (default 1)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child()
        return 0

    variant = Variant(
        name="bench-estate",
        settings="max_locks_per_transaction = 1024\nautovacuum = off\n",
        seed_sql=f"CREATE ROLE auditor LOGIN PASSWORD '{PASSWORD}' IN ROLE pg_monitor;",
    )
    cluster = Cluster(variant).start()
    try:
        for count in (args.small, args.big):
            print(f"building {count:,} tables ... {build(cluster, count):.1f} s", flush=True)
        medians: dict[int, dict[str, float]] = {}
        # Interleaved (small, big, small, big...): a drift in the machine's load hits both.
        runs_of: dict[int, list[dict[str, float]]] = {args.small: [], args.big: []}
        for _ in range(args.repeat):
            for count in (args.small, args.big):
                dsn = cluster.dsn("auditor", dbname=f"estate_{count}")
                runs_of[count].append(scan_in_child(dsn, args.connections))
        for count in (args.small, args.big):
            runs = runs_of[count]
            median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            medians[count] = median
            expected_tables = count + 3  # t1..tN, the two seeds and customers
            print(
                f"{count:>6,} tables, {args.connections} sampling connection(s): "
                f"runs {', '.join(format(r['seconds'], '.2f') for r in runs)} s; "
                f"scan median {median['seconds']:.2f} s "
                f"(sampling {median['sampling_seconds']:.2f} s, process "
                f"{median['process_seconds']:.2f} s) over {args.repeat} runs, peak RSS "
                f"{median['rss_mb']:.0f} MB, tables sampled {median['tables_sampled']:.0f}/"
                f"{expected_tables}, not sampled {median['not_sampled']:.0f}, "
                f"plaintext PII findings {median['pii_findings']:.0f}",
                flush=True,
            )
        big, small = medians[args.big], medians[args.small]
        ratio = big["seconds"] / small["seconds"]
        verdicts = {
            f"time {big['seconds']:.2f} s <= {MAX_SECONDS:g} s": big["seconds"] <= MAX_SECONDS,
            f"peak RSS {big['rss_mb']:.0f} MB <= {MAX_RSS_MB:g} MB": big["rss_mb"] <= MAX_RSS_MB,
            f"ratio {ratio:.2f}x <= {MAX_RATIO:g}x the {args.small:,}-table scan": ratio
            <= MAX_RATIO,
            f"every table sampled ({big['not_sampled']:.0f} left out)": big["not_sampled"] == 0
            and big["errors"] == 0,
        }
        for label, ok in verdicts.items():
            print(f"{args.big:,} tables: {label}: {'OK' if ok else 'OVER TARGET'}")
        print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        cluster.stop()
    return 0 if all(verdicts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
