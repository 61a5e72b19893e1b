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
  by the CPUs: the script measures the scanner's CPU and the servers' (each postmaster and
  its backends) and prints that bound as a ratio. On 2 CPUs it is about 10x one target
  whatever the scanner does.
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


def process_cpu(pid: int, children: bool = False) -> float:
    """User and system CPU seconds of a running process (and of its children it has reaped:
    a postmaster's backends), from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11 : 15 if children else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


def servers_cpu(clusters: list[Cluster]) -> float:
    """CPU seconds the clusters' servers used so far: each postmaster and its ended backends."""
    total = 0.0
    for cluster in clusters:
        pid = int((cluster.datadir / "postmaster.pid").read_text().split()[0])
        total += process_cpu(pid, children=True)
    return total


def timed(config: ScanConfig, workers: int, clusters: list[Cluster]) -> tuple[float, float, float]:
    """Wall seconds, the scanner's CPU seconds and the servers' CPU seconds of one scan."""
    servers0 = servers_cpu(clusters)
    cpu0 = time.process_time()
    started = time.perf_counter()
    results, _ = run_scan(config, ROOT, workers=workers)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    # Backends that ended are counted once the postmaster has reaped them: a moment's grace.
    time.sleep(0.2)
    servers = servers_cpu(clusters) - servers0
    bad = [t.name for t in results.targets if t.status.value != "scanned"]
    if bad:  # an unscanned target is quick and would flatter the figure
        raise SystemExit(f"targets not scanned: {', '.join(bad)}")
    return seconds, cpu, servers


@dataclass
class Runs:
    one: list[tuple[float, float, float]]  # (wall, scanner CPU, servers' CPU) per run
    many: list[tuple[float, float, float]]

    def median(self, which: str, field: int) -> float:
        return statistics.median(r[field] for r in getattr(self, which))


def measure(
    one: ScanConfig, many: ScanConfig, args: argparse.Namespace, clusters: list[Cluster]
) -> Runs:
    timed(one, 1, clusters)  # warm-up: imports, the check catalog, the TLS library
    runs = Runs([], [])
    for _ in range(args.repeat):  # interleaved, so that load drifts hit both alike
        runs.one.append(timed(one, 1, clusters))
        runs.many.append(timed(many, args.workers, clusters))
    return runs


def report(label: str, runs: Runs, args: argparse.Namespace, count: int, extra: float) -> float:
    """Print both medians and the ratio; `extra` is CPU per target spent outside the scanner
    and the servers (the relay's)."""
    for which, what in (("one", "1 target"), ("many", f"{args.targets} targets")):
        listed = ", ".join(f"{r[0]:.2f}" for r in getattr(runs, which))
        print(
            f"[{label}] {what} ({count if which == 'many' else 1} clusters, "
            f"{args.workers if which == 'many' else 1} workers): median "
            f"{runs.median(which, 0):.2f} s, CPU: scanner {runs.median(which, 1):.2f} s, "
            f"servers {runs.median(which, 2):.2f} s (runs {listed})"
        )
    one, many = runs.median("one", 0), runs.median("many", 0)
    ratio = many / one
    # The targets' CPU work (scanner, servers, relay) spread over every CPU of the machine:
    # no schedule of the scans can end sooner.
    cpus = os.cpu_count() or 1
    work = runs.median("many", 1) + runs.median("many", 2) + extra * args.targets
    print(
        f"[{label}] ratio {ratio:.2f}x one target; their CPU work alone ({work:.1f} s on "
        f"{cpus} CPUs) needs at least {work / cpus:.2f} s = {work / cpus / one:.1f}x one target"
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
        local = measure(config_for(clusters, 1), config_for(clusters, args.targets), args, clusters)
        report("local", local, args, count, 0.0)
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
            config_for(clusters, 1, ports),
            config_for(clusters, args.targets, ports),
            args,
            clusters,
        )
        relayed = 1 + args.repeat * (1 + args.targets)  # targets scanned through the relay
        per_target = (process_cpu(relay.pid) - relay_cpu) / relayed
        ratio = report(label, slow, args, count, per_target)
        print(f"[{label}] the relay process itself used {per_target:.2f} s of CPU per target")
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
