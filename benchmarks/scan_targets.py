"""How a scan scales with targets and workers, on real local clusters.

Starts N throwaway clusters (compliant variant), scans them all with --workers 1 and with
--workers N, and prints wall times and the speed-up ratio. Run:

    .venv/bin/python benchmarks/scan_targets.py [N]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from auditor.config import parse_config
from auditor.lab.cluster import Cluster, Variant
from auditor.runner import run_scan

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    os.environ["BENCH_PW"] = "auditor-test-pw"
    variant = Variant.from_dir(ROOT / "fixtures" / "postgres" / "compliant")
    t0 = time.perf_counter()
    clusters = [Cluster(variant).start() for _ in range(count)]
    print(f"started {count} clusters in {time.perf_counter() - t0:.1f} s")
    try:
        text = "targets:\n" + "".join(
            f"  - name: db{i}\n    dsn: '{c.dsn('auditor')}'\n    password: {{env: BENCH_PW}}\n"
            f"    sensitive_columns: [users.email, users.phone, users.wallet_address]\n"
            for i, c in enumerate(clusters)
        )
        config = parse_config(text, "bench.yaml")
        timings = {}
        for workers in (1, count):
            start = time.perf_counter()
            results, _ = run_scan(config, ROOT, workers=workers)
            timings[workers] = time.perf_counter() - start
            per_target = len(results.findings) // count
            print(
                f"workers={workers:2}: {timings[workers]:6.2f} s for {count} targets "
                f"({per_target} results per target)"
            )
        print(f"speed-up with {count} workers: {timings[1] / timings[count]:.2f}x")
    finally:
        for cluster in clusters:
            cluster.stop()


if __name__ == "__main__":
    main()
