"""One server with 20 databases: a `databases: all` scan against a scan of one database of the
same server (issue target: at most 2x its wall time), and how many TLS probes each made (the
whole server must be probed once).

Starts one throwaway cluster (compliant variant: pgcrypto ciphertext in `app`), clones `app`
into 19 more databases, then scans each way `--repeat` times (median). Exits 1 when the ratio
is above the target or the server was probed more than once. Run:

    .venv/bin/python benchmarks/server_databases.py [--databases 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import auditor.collectors.tls as tls_collector
from auditor.config import parse_config
from auditor.lab.cluster import Cluster, Variant
from auditor.runner import run_scan

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 2.0


def make_databases(cluster: Cluster, count: int) -> None:
    """`app` plus count-1 clones of it (same tables, ciphertext and grants)."""
    with cluster.admin_connection("postgres", autocommit=True) as conn:
        for i in range(1, count):
            conn.execute(f'CREATE DATABASE "app{i:02d}" TEMPLATE app')


def config_text(cluster: Cluster, extra: str) -> str:
    return (
        "targets:\n  - name: server\n"
        f"    dsn: '{cluster.dsn('auditor')}'\n    password: {{env: BENCH_PW}}\n"
        "    sensitive_columns: [users.email, users.phone, users.wallet_address]\n" + extra
    )


def timed_scan(text: str) -> tuple[float, int, Any]:
    probes: list[object] = []
    real = tls_collector.probe

    def counting(request: Any) -> Any:
        probes.append(request)
        return real(request)

    tls_collector.probe = counting  # type: ignore[assignment]
    try:
        start = time.perf_counter()
        results, _ = run_scan(parse_config(text, "bench.yaml"), ROOT)
        return time.perf_counter() - start, len(probes), results
    finally:
        tls_collector.probe = real  # type: ignore[assignment]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-workers", type=int, default=4)
    args = parser.parse_args()
    os.environ["BENCH_PW"] = "auditor-test-pw"
    variant = Variant.from_dir(ROOT / "fixtures" / "postgres" / "compliant")
    with Cluster(variant) as cluster:
        make_databases(cluster, args.databases)
        single = config_text(cluster, "")
        every = config_text(
            cluster,
            "    databases: all\n    exclude_databases: [postgres]\n"
            f"    database_workers: {args.database_workers}\n",
        )
        timed_scan(single)  # warm-up: imports, first TLS handshake
        one = [timed_scan(single) for _ in range(args.repeat)]
        all_ = [timed_scan(every) for _ in range(args.repeat)]
    one_s = statistics.median(t for t, _, _ in one)
    all_s = statistics.median(t for t, _, _ in all_)
    _, probes, results = all_[-1]
    parts = [t for t in results.targets if t.server == "server"]
    scanned = sum(t.status.value == "scanned" for t in parts)
    server_findings = sum(f.target == "server" for f in results.findings)
    ratio = all_s / one_s
    print(f"one server, {args.databases} databases, database_workers={args.database_workers}")
    print(f"single-database scan: {one_s:6.2f} s (median of {args.repeat})")
    print(
        f"all-databases scan:   {all_s:6.2f} s (median of {args.repeat}): {scanned} databases "
        f"scanned, {server_findings} server findings once, {len(results.findings)} findings"
    )
    print(f"ratio: {ratio:.2f}x (target <= {TARGET_RATIO:.0f}x)")
    print(f"TLS probes in the all-databases scan: {probes} (target 1)")
    ok = ratio <= TARGET_RATIO and probes == 1 and scanned == args.databases
    print("within target" if ok else "ABOVE TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
