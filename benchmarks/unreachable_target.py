"""What one unreachable target adds to a 20-target run.

Starts one lab cluster (the compliant fixture) and scans it as 20 targets, then as the same
20 plus one target that takes TCP connections and never answers (a local listening socket
that never replies: a hung server or a black-holing proxy, no real network involved), placed
last so that it holds the run's tail. Prints both wall times (medians) and the difference,
which must stay within that target's connect timeout (it once cost ~21.5 s: the TLS probe's
timeout and then the SQL connect timeout, one after the other).

Run: .venv/bin/python benchmarks/unreachable_target.py [--repeat N] [--workers N]
Exits 1 when the unreachable target adds more than its connect timeout.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time
from pathlib import Path

from auditor.config import parse_config
from auditor.lab.cluster import Cluster, Variant
from auditor.runner import run_scan

ROOT = Path(__file__).resolve().parent.parent
REACHABLE = 20
CONNECT_TIMEOUT = 10.0  # the default of connect_timeout_seconds


def config_text(cluster: Cluster, dead_port: int | None) -> str:
    text = "targets:\n" + "".join(
        f"  - name: db{i}\n    dsn: '{cluster.dsn('auditor')}'\n"
        "    password: {env: BENCH_PW}\n"
        "    sensitive_columns: [users.email, users.phone, users.wallet_address]\n"
        for i in range(REACHABLE)
    )
    if dead_port is not None:
        text += (
            "  - name: hung\n"
            f"    dsn: 'postgresql://auditor@127.0.0.1:{dead_port}/app?sslmode=require'\n"
            f"    connect_timeout_seconds: {CONNECT_TIMEOUT:g}\n"
        )
    return text


def timed_scan(text: str, workers: int) -> float:
    config = parse_config(text, "bench.yaml")
    started = time.perf_counter()
    run_scan(config, ROOT, workers=workers)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4, help="as `auditor scan` (default 4)")
    args = parser.parse_args()
    os.environ["BENCH_PW"] = "auditor-test-pw"  # the fixture's throwaway role
    cluster = Cluster(Variant.from_dir(ROOT / "fixtures" / "postgres" / "compliant")).start()
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)  # the kernel completes the handshakes; nobody ever answers
    try:
        with_dead = config_text(cluster, silent.getsockname()[1])
        alone = config_text(cluster, None)
        timed_scan(alone, args.workers)  # warm caches and imports
        base: list[float] = []
        dead: list[float] = []
        for _ in range(args.repeat):  # interleaved, so that load drifts hit both alike
            base.append(timed_scan(alone, args.workers))
            dead.append(timed_scan(with_dead, args.workers))
        b, d = statistics.median(base), statistics.median(dead)
        added = d - b
        print(
            f"{REACHABLE} reachable targets, {args.workers} workers: median {b:.2f} s "
            f"(runs: {', '.join(f'{x:.2f}' for x in base)})"
        )
        print(
            f"the same plus one silent target: median {d:.2f} s "
            f"(runs: {', '.join(f'{x:.2f}' for x in dead)}); ratio {d / b:.2f}x"
        )
        within = added <= CONNECT_TIMEOUT
        print(
            f"added by the unreachable target: {added:.2f} s "
            f"(target <= its connect timeout, {CONNECT_TIMEOUT:g} s): "
            f"{'OK' if within else 'OVER TARGET'}"
        )
    finally:
        silent.close()
        cluster.stop()
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
