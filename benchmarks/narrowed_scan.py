"""What narrowing a scan saves: full vs transport-only vs column-only, on a 1,000-table database.

Starts a throwaway lab cluster with TLS and log_connections = on, builds a database of
1,000 tables (most innocent, some holding plaintext e-mails, some pgcrypto ciphertext), then
scans it three ways in one run and prints, for each: median wall time, connections the
server saw (from its log), how many of those were TLS-probe handshakes (connections that
never logged in), server log lines added, and whether column sampling ran; every figure also
as a ratio to the full scan measured in the same run.

Targets (issue "Collect only what the selected checks need"): a transport-only scan costs at
most 0.3x the full scan's time, and a column-only scan makes no TLS-probe handshake. A second
part times the per-value PII analysis (one detector pass for shape and matches, against the
previous two passes). Exits 1 when a target is missed.

Run: .venv/bin/python benchmarks/narrowed_scan.py [--tables N] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from auditor import pii
from auditor.catalog import all_checks
from auditor.config import parse_config
from auditor.lab.cluster import Cluster, Variant
from auditor.runner import run_scan
from auditor.selection import select_checks

PASSWORD = "bench-auditor-pw"  # a throwaway cluster's role, not a secret
BUILD = """
CREATE EXTENSION IF NOT EXISTS pgcrypto;
DO $$
DECLARE i int;
BEGIN
  FOR i IN 1..{tables} LOOP
    IF i % 20 = 0 THEN      -- plaintext personal data in an undeclared column
      EXECUTE format('CREATE TABLE t%s (id int, contact text, note text)', i);
      EXECUTE format('INSERT INTO t%s SELECT g, ''user'' || g || ''@example.com'', ''n''
                      FROM generate_series(1, 20) g', i);
    ELSIF i % 20 = 1 THEN   -- ciphertext
      EXECUTE format('CREATE TABLE t%s (id int, secret text)', i);
      EXECUTE format('INSERT INTO t%s SELECT g, encode(pgp_sym_encrypt(''x'' || g, ''k'',
                      ''cipher-algo=aes256, s2k-mode=1''), ''base64'')
                      FROM generate_series(1, 20) g', i);
    ELSE
      EXECUTE format('CREATE TABLE t%s (id int, sku text, qty int)', i);
      EXECUTE format('INSERT INTO t%s SELECT g, ''SKU-'' || g, g FROM generate_series(1, 20) g', i);
    END IF;
  END LOOP;
END $$;
ANALYZE;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO auditor;
"""


@dataclass
class Measure:
    name: str
    seconds: float
    connections: int
    probe_handshakes: int
    log_lines: int
    sampled_columns: int


def scan_once(cluster: Cluster, text: str, check_ids: set[str] | None) -> Measure:
    before = len(cluster.log_text().splitlines())
    started = time.perf_counter()
    _, bundles = run_scan(parse_config(text, "bench.yaml"), Path.cwd(), check_ids=check_ids)
    seconds = time.perf_counter() - started
    time.sleep(0.5)  # the server logs the last disconnect after the client returns
    added = cluster.log_text().splitlines()[before:]
    received = sum("connection received" in line for line in added)
    authorized = sum("connection authorized" in line for line in added)
    columns = bundles[0].to_json()["sections"].get("columns") or {}
    return Measure(
        "", seconds, received, received - authorized, len(added), len(columns.get("samples") or [])
    )


def pii_analysis(repeat: int) -> tuple[float, float]:
    values = (
        [f"user{i}@example.com" for i in range(2000)]
        + [f"SKU-{i:05d}" for i in range(6000)]
        + [f"4111 1111 1111 {i:04d}" for i in range(2000)]
    )

    def two_passes() -> None:
        for v in values:
            pii.shape(v)
            pii.find_pii(v)

    def one_pass() -> None:
        for v in values:
            pii.analyse(v)

    timings: dict[str, list[float]] = {"two": [], "one": []}
    for _ in range(repeat):
        for key, run in (("two", two_passes), ("one", one_pass)):
            started = time.perf_counter()
            run()
            timings[key].append(time.perf_counter() - started)
    return statistics.median(timings["two"]), statistics.median(timings["one"])


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-transport-ratio", type=float, default=0.3)
    args = parser.parse_args()

    variant = Variant(
        name="bench-narrowed",
        settings="log_connections = on\nlog_disconnections = on\n",
        seed_sql=f"CREATE ROLE auditor LOGIN PASSWORD '{PASSWORD}' IN ROLE pg_monitor;",
    )
    catalog = list(all_checks())
    selections = {
        "full": None,
        "transport-only": select_checks(catalog, ["transport"]),
        "column-only": select_checks(catalog, ["column"]),
    }
    cluster = Cluster(variant).start()
    try:
        started = time.monotonic()
        with cluster.admin_connection(autocommit=True) as conn:
            conn.execute(BUILD.replace("{tables}", str(int(args.tables))).encode())
        print(f"built {args.tables:,} tables in {time.monotonic() - started:.1f} s")
        text = (
            "targets:\n  - name: bench\n"
            f"    dsn: '{cluster.dsn('auditor')}'\n"
            f"    password: {{env: AUDITOR_BENCH_PW}}\n"
            "    sensitive_columns: [t1.secret, t21.secret]\n"
        )
        os.environ["AUDITOR_BENCH_PW"] = PASSWORD
        measured: dict[str, Measure] = {}
        for name, ids in selections.items():
            runs = [scan_once(cluster, text, ids) for _ in range(args.repeat)]
            best = runs[-1]
            best.name = name
            best.seconds = statistics.median(r.seconds for r in runs)
            measured[name] = best
    finally:
        cluster.stop()

    full = measured["full"]
    print(
        f"{'scan':<15} {'time':>8} {'x full':>7} {'conns':>6} {'x full':>7} "
        f"{'probe hs':>9} {'log lines':>10} {'x full':>7} {'sampled cols':>13}"
    )
    for m in measured.values():
        print(
            f"{m.name:<15} {m.seconds:7.2f}s {m.seconds / full.seconds:6.2f}x "
            f"{m.connections:6d} {m.connections / full.connections:6.2f}x "
            f"{m.probe_handshakes:9d} {m.log_lines:10d} {m.log_lines / full.log_lines:6.2f}x "
            f"{m.sampled_columns:13d}"
        )
    transport_ratio = measured["transport-only"].seconds / full.seconds
    column_hs = measured["column-only"].probe_handshakes
    two, one = pii_analysis(args.repeat)
    print(
        f"PII analysis of 10,000 values: two detector passes {two * 1000:.1f} ms, "
        f"one pass {one * 1000:.1f} ms ({one / two:.2f}x)"
    )
    ok_transport = transport_ratio <= args.max_transport_ratio
    ok_column = column_hs == 0
    print(
        f"transport-only / full time: {transport_ratio:.2f}x (target <= "
        f"{args.max_transport_ratio:g}x): {'OK' if ok_transport else 'OVER TARGET'}"
    )
    print(
        f"column-only TLS-probe handshakes: {column_hs} (target 0): "
        f"{'OK' if ok_column else 'OVER TARGET'}"
    )
    return 0 if ok_transport and ok_column else 1


if __name__ == "__main__":
    sys.exit(main())
