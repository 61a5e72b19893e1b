"""20 targets scanned with 16 workers against one target, on real local clusters.

Starts --clusters throwaway clusters (the `compliant` fixture: TLS on, so each target is
probed too) and scans --targets targets spread over them (one target per cluster by
default), with --workers workers, against a scan of one target alone; both interleaved
--repeat times in the same process after a warm-up scan, medians printed with their ratio.

Run: .venv/bin/python benchmarks/scan_targets.py [--targets 20] [--workers 16] [--clusters N]
Exits 1 when the many-target scan takes more than 4x the one-target scan.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from auditor.config import ScanConfig, parse_config
from auditor.lab.cluster import Cluster, Variant
from auditor.runner import run_scan

ROOT = Path(__file__).resolve().parent.parent
MAX_RATIO = 4.0


def config_for(clusters: list[Cluster], targets: int) -> ScanConfig:
    text = "targets:\n" + "".join(
        f"  - name: db{i}\n    dsn: '{clusters[i % len(clusters)].dsn('auditor')}'\n"
        "    password: {env: BENCH_PW}\n"
        "    sensitive_columns: [users.email, users.phone, users.wallet_address]\n"
        for i in range(targets)
    )
    return parse_config(text, "bench.yaml")


def timed(config: ScanConfig, workers: int) -> float:
    started = time.perf_counter()
    results, _ = run_scan(config, ROOT, workers=workers)
    seconds = time.perf_counter() - started
    bad = [t.name for t in results.targets if t.status.value != "scanned"]
    if bad:  # an unscanned target is quick and would flatter the figure
        raise SystemExit(f"targets not scanned: {', '.join(bad)}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--clusters", type=int, default=None, help="default: one per target")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ["BENCH_PW"] = "auditor-test-pw"  # the fixture's throwaway role
    variant = Variant.from_dir(ROOT / "fixtures" / "postgres" / "compliant")
    count = args.clusters or args.targets
    started = time.perf_counter()
    clusters: list[Cluster] = []
    try:
        for _ in range(count):
            clusters.append(Cluster(variant).start())
        print(f"started {count} clusters in {time.perf_counter() - started:.1f} s", flush=True)
        one = config_for(clusters, 1)
        many = config_for(clusters, args.targets)
        timed(one, 1)  # warm-up: imports, the check catalog, the TLS library
        alone: list[float] = []
        fleet: list[float] = []
        for _ in range(args.repeat):  # interleaved, so that load drifts hit both alike
            alone.append(timed(one, 1))
            fleet.append(timed(many, args.workers))
    finally:
        for cluster in clusters:
            cluster.stop()
    a, f = statistics.median(alone), statistics.median(fleet)
    ratio = f / a
    print(f"1 target: median {a:.2f} s (runs: {', '.join(f'{x:.2f}' for x in alone)})")
    print(
        f"{args.targets} targets on {count} clusters, {args.workers} workers: median {f:.2f} s "
        f"(runs: {', '.join(f'{x:.2f}' for x in fleet)})"
    )
    within = ratio <= MAX_RATIO
    print(
        f"ratio {ratio:.2f}x (target <= {MAX_RATIO:g}x one target): "
        f"{'OK' if within else 'OVER TARGET'}; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
