"""20 targets scanned with 16 workers against one target, on real local clusters: once with
the servers on this machine, once behind a relay that adds network latency.

Starts --clusters throwaway clusters (the `compliant` fixture: TLS on, so each target is
probed too) and scans --targets targets spread over them (one target per cluster by
default), with --workers workers, against a scan of one target alone; both interleaved
--repeat times in the same process after a warm-up scan, medians printed with their ratio.

Two settings, both printed:

* **local**: the scanner and every server share this machine's CPUs. A target's scan is
  nearly all CPU work (the probe's TLS handshakes on both ends, each server forking a
  backend per connection), so 20 targets cannot take less than their total CPU time divided
  by the CPUs: the script prints the machine's CPU utilisation during the 20-target runs and
  that bound as a ratio. On 2 CPUs it is about 10x one target whatever the scanner does.
* **latency** (--latency-ms one way, default 5 ms, as between availability zones): every
  connection goes through `latency_proxy.py` in its own process. A target's scan then waits
  on round trips, as it does against real servers, and the workers must overlap those waits:
  this is what `workers` is for, and the 4x target is checked here.

Run: .venv/bin/python benchmarks/scan_targets.py [--targets 20] [--workers 16] [--clusters N]
     [--latency-ms 5] [--repeat 3]
Exits 1 when the many-target scan over the latency relay takes more than 4x one target.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from auditor.config import ScanConfig, parse_config
from auditor.lab.cluster import Cluster, Variant, free_port
from auditor.runner import run_scan

ROOT = Path(__file__).resolve().parent.parent
MAX_RATIO = 4.0


def config_for(clusters: list[Cluster], targets: int, ports: list[int] | None = None) -> ScanConfig:
    lines = []
    for i in range(targets):
        cluster = clusters[i % len(clusters)]
        dsn = cluster.dsn("auditor")
        if ports is not None:  # through the relay: same name (certificate), another port
            dsn = dsn.replace(f":{cluster.port}/", f":{ports[i % len(clusters)]}/", 1)
        lines.append(
            f"  - name: db{i}\n    dsn: '{dsn}'\n"
            "    password: {env: BENCH_PW}\n"
            "    sensitive_columns: [users.email, users.phone, users.wallet_address]\n"
        )
    return parse_config("targets:\n" + "".join(lines), "bench.yaml")


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of every CPU since boot, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def process_cpu(pid: int) -> float:
    """User and system CPU seconds of a running process, from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(config: ScanConfig, workers: int) -> tuple[float, float, float]:
    """Wall seconds, the scanner's CPU seconds and the machine's CPU utilisation of one scan."""
    busy0, total0 = cpu_jiffies()
    cpu0 = time.process_time()
    started = time.perf_counter()
    results, _ = run_scan(config, ROOT, workers=workers)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    busy1, total1 = cpu_jiffies()
    bad = [t.name for t in results.targets if t.status.value != "scanned"]
    if bad:  # an unscanned target is quick and would flatter the figure
        raise SystemExit(f"targets not scanned: {', '.join(bad)}")
    return seconds, cpu, (busy1 - busy0) / max(1, total1 - total0)


@dataclass
class Runs:
    one: list[tuple[float, float, float]]  # (wall, scanner CPU, machine CPU use) per run
    many: list[tuple[float, float, float]]

    def median(self, which: str, field: int) -> float:
        return statistics.median(r[field] for r in getattr(self, which))


def measure(one: ScanConfig, many: ScanConfig, args: argparse.Namespace) -> Runs:
    timed(one, 1)  # warm-up: imports, the check catalog, the TLS library
    runs = Runs([], [])
    for _ in range(args.repeat):  # interleaved, so that load drifts hit both alike
        runs.one.append(timed(one, 1))
        runs.many.append(timed(many, args.workers))
    return runs


def report(label: str, runs: Runs, args: argparse.Namespace, count: int) -> float:
    for which, what in (("one", "1 target"), ("many", f"{args.targets} targets")):
        listed = ", ".join(f"{r[0]:.2f}" for r in getattr(runs, which))
        print(
            f"[{label}] {what} ({count if which == 'many' else 1} clusters, "
            f"{args.workers if which == 'many' else 1} workers): median "
            f"{runs.median(which, 0):.2f} s, scanner CPU {runs.median(which, 1):.2f} s, "
            f"machine CPU use {runs.median(which, 2):.0%} (runs {listed})"
        )
    ratio = runs.median("many", 0) / runs.median("one", 0)
    # One target's scan kept this share of the machine's CPUs busy (scanner and server); the
    # targets need that many times the CPU time, and no schedule can beat all CPUs busy.
    bound = args.targets * runs.median("one", 2)
    print(
        f"[{label}] ratio {ratio:.2f}x one target; the machine's CPUs alone bound it at "
        f"~{bound:.1f}x ({args.targets} x one target's CPU use)"
    )
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--clusters", type=int, default=None, help="default: one per target")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=5.0, help="one way; 0: skip")
    args = parser.parse_args()
    os.environ["BENCH_PW"] = "auditor-test-pw"  # the fixture's throwaway role
    variant = Variant.from_dir(ROOT / "fixtures" / "postgres" / "compliant")
    count = args.clusters or args.targets
    started = time.perf_counter()
    clusters: list[Cluster] = []
    relay: subprocess.Popen[str] | None = None
    try:
        for _ in range(count):
            clusters.append(Cluster(variant).start())
        print(f"started {count} clusters in {time.perf_counter() - started:.1f} s", flush=True)
        local = measure(config_for(clusters, 1), config_for(clusters, args.targets), args)
        report("local", local, args, count)
        if args.latency_ms <= 0:
            return 0
        ports = [free_port() for _ in clusters]
        relay = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("latency_proxy.py")),
                "--delay-ms",
                str(args.latency_ms),
                *(f"{p}:{c.port}" for p, c in zip(ports, clusters, strict=True)),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert relay.stdout is not None
        if relay.stdout.readline().strip() != "ready":
            raise SystemExit("the latency relay did not start")
        label = f"{args.latency_ms:g} ms latency"
        relay_cpu = process_cpu(relay.pid)
        slow = measure(
            config_for(clusters, 1, ports), config_for(clusters, args.targets, ports), args
        )
        ratio = report(label, slow, args, count)
        relayed = 1 + args.repeat * (1 + args.targets)  # targets scanned through the relay
        print(
            f"[{label}] the relay process itself used "
            f"{(process_cpu(relay.pid) - relay_cpu) / relayed:.2f} s of CPU per target scanned"
        )
    finally:
        if relay is not None:
            relay.terminate()
            relay.wait()
        for cluster in clusters:
            cluster.stop()
    within = ratio <= MAX_RATIO
    print(
        f"[{label}] ratio {ratio:.2f}x (target <= {MAX_RATIO:g}x one target): "
        f"{'OK' if within else 'OVER TARGET'}; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
