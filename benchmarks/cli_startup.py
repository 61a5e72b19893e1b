"""Start-up cost of the commands people type first: `auditor --help` and
`auditor checks list`, against a bare interpreter (`python -c pass`) timed in the same run.

Each command runs in a fresh process (as a user runs it), N times interleaved with the
baseline; medians are printed, with the ratio to the baseline, and the heaviest imports of
`auditor --help` (from `python -X importtime`) so that a regression names its cause.

Every process runs as an installed package runs: with its bytecode cached (`pip install`
compiles it; a development shell with PYTHONDONTWRITEBYTECODE=1 would otherwise recompile
every imported module on every start), and the warm-up run writes that cache as well as the
check listing's cache (auditor.check_index) into a temporary folder.

Run: .venv/bin/python benchmarks/cli_startup.py [--repeat N]
Exits 1 when either command's median is over 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TARGET_SECONDS = 0.3
COMMANDS = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "auditor --help": [sys.executable, "-m", "auditor", "--help"],
    "auditor checks list": [sys.executable, "-m", "auditor", "checks", "list"],
}


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def once(argv: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def heaviest_imports(count: int = 8) -> list[tuple[int, str]]:
    """What `auditor --help` imports first-hand, by cumulative import time (microseconds)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "auditor", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env=ENV,
    )
    found: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip().removeprefix(" ")
        depth = (len(name) - len(name.lstrip(" "))) // 2
        if depth != 1:  # what auditor.cli (depth 0) imports directly; deeper is inside those
            continue
        found[name.strip()] = max(found.get(name.strip(), 0), int(parts[1]))
    return sorted(((us, name) for name, us in found.items()), reverse=True)[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    ENV["AUDITOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="auditor-bench-cache-")
    for argv in COMMANDS.values():
        once(argv)  # warm the file cache
    timings: dict[str, list[float]] = {label: [] for label in COMMANDS}
    cpu: dict[str, list[float]] = {label: [] for label in COMMANDS}
    for _ in range(args.repeat):
        for label, argv in COMMANDS.items():
            wall, used = once(argv)
            timings[label].append(wall)
            cpu[label].append(used)
    shutil.rmtree(ENV["AUDITOR_CACHE_DIR"], ignore_errors=True)
    medians = {label: statistics.median(t) for label, t in timings.items()}
    base = medians["python -c pass (baseline)"]
    ok = True
    for label, median in medians.items():
        line = (
            f"{label:28} median {median:.3f} s over {args.repeat} runs ({median / base:.1f}x), "
            f"CPU {statistics.median(cpu[label]):.3f} s"
        )
        if label.startswith("auditor"):
            within = median <= TARGET_SECONDS
            ok = ok and within
            line += f"; target <= {TARGET_SECONDS:g} s: {'OK' if within else 'OVER TARGET'}"
        print(line)
    print("heaviest direct imports under `auditor --help` (cumulative):")
    for us, name in heaviest_imports():
        print(f"  {us / 1e6:6.3f} s  {name}")
    load = os.getloadavg()[0]
    print(f"load average (1 min) at the end: {load:.1f} on {os.cpu_count()} CPUs")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
