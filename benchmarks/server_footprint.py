"""Server footprint of one scan: the log lines a server with connection logging on writes
while Auditor scans it, against the sslyze CLI and testssl.sh on the same server, same run.

Starts one throwaway cluster built like the reference design (the `compliant` fixture:
hostssl only, TLS 1.2+, log_connections and log_disconnections on), then runs against it,
one after the other:

* `auditor scan` (run_scan with the default policy: TLS probe, every session collector,
  column sampling) of that one target;
* the sslyze CLI (`--starttls postgres`, its default scan commands);
* testssl.sh (`-p -e`: protocols and every suite), as Auditor's cross-check runs it.

Each figure is the number of lines the server's log gained (every line, errors included),
with the TCP connections (`connection received`) it saw, medians over --repeat runs.

Run: .venv/bin/python benchmarks/server_footprint.py [--repeat N] [--skip-testssl]
Exits 1 when Auditor's scan adds more than 70 log lines.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from auditor.config import parse_config
from auditor.lab.cluster import Cluster, Variant
from auditor.runner import run_scan
from auditor.tls.crosscheck import find_testssl, run_testssl

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "auditor-test-pw"  # the compliant fixture's throwaway scanning role
MAX_LINES = 70


def measure(cluster: Cluster, run: Callable[[], None]) -> tuple[int, int, float]:
    """Log lines added and connections seen while `run` ran, and its wall time."""
    before = len(cluster.log_text().splitlines())
    started = time.monotonic()
    run()
    seconds = time.monotonic() - started
    time.sleep(1.0)  # the server logs the last disconnections after the client returns
    added = cluster.log_text().splitlines()[before:]
    return len(added), sum("connection received" in line for line in added), seconds


def auditor_scan(cluster: Cluster) -> Callable[[], None]:
    text = (
        "targets:\n  - name: db\n"
        f"    dsn: '{cluster.dsn('auditor')}'\n"
        "    password: {env: BENCH_PW}\n"
        "    sensitive_columns: [users.email, users.phone, users.wallet_address]\n"
    )
    config = parse_config(text, "bench.yaml")

    def run() -> None:
        results, _ = run_scan(config, ROOT)
        statuses = {t.status.value for t in results.targets}
        assert statuses == {"scanned"}, statuses  # a failed scan would log less: not a figure

    return run


def sslyze_cli(cluster: Cluster) -> Callable[[], None]:
    def run() -> None:
        subprocess.run(
            [sys.executable, "-m", "sslyze", "--starttls", "postgres", f"localhost:{cluster.port}"],
            capture_output=True,
            timeout=900,
            check=False,  # exit 1 is sslyze's own verdict on the server's configuration
        )

    return run


def testssl(cluster: Cluster) -> Callable[[], None]:
    def run() -> None:
        run_testssl("127.0.0.1", cluster.port, timeout=900)

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-sslyze-cli", action="store_true")
    parser.add_argument("--skip-testssl", action="store_true")
    args = parser.parse_args()
    if not args.skip_testssl and find_testssl() is None:
        sys.exit("testssl.sh is not installed (tools/bootstrap.sh installs it) or --skip-testssl")
    os.environ["BENCH_PW"] = PASSWORD
    tools: dict[str, Callable[[Cluster], Callable[[], None]]] = {"auditor scan": auditor_scan}
    if not args.skip_sslyze_cli:
        tools["sslyze CLI"] = sslyze_cli
    if not args.skip_testssl:
        tools["testssl.sh -p -e"] = testssl
    figures: dict[str, list[tuple[int, int, float]]] = {name: [] for name in tools}
    with Cluster(Variant.from_dir(ROOT / "fixtures" / "postgres" / "compliant")) as cluster:
        with cluster.admin_connection() as conn:
            settings = conn.execute(
                "SELECT current_setting('log_connections'), current_setting('log_disconnections')"
            ).fetchone()
        print(f"server: PostgreSQL, log_connections/log_disconnections = {settings}")
        runs = {name: make(cluster) for name, make in tools.items()}
        for _ in range(args.repeat):  # interleaved: every tool sees the same server state
            for name, run in runs.items():
                figures[name].append(measure(cluster, run))
    medians = {
        name: tuple(statistics.median(f[i] for f in found) for i in range(3))
        for name, found in figures.items()
    }
    ours = medians["auditor scan"][0]
    for name, (lines, connections, seconds) in medians.items():
        line = (
            f"{name:18} log lines {lines:6.0f}  connections {connections:5.0f}  "
            f"wall {seconds:6.2f} s  ({lines / ours:.1f}x Auditor's lines)"
        )
        if name == "auditor scan":
            line += f"; target <= {MAX_LINES}: {'OK' if ours <= MAX_LINES else 'OVER TARGET'}"
        print(line)
    print(f"medians of {args.repeat} runs each; every line the server's log gained is counted")
    return 0 if ours <= MAX_LINES else 1


if __name__ == "__main__":
    sys.exit(main())
