"""Start-up cost of the commands people type first: `auditor --help` and
`auditor checks list`, against a bare interpreter (`python -c pass`) timed in the same run.

Each command runs in a fresh process (as a user runs it), N times interleaved with the
baseline; medians are printed, with the ratio to the baseline, and the heaviest imports of
`auditor --help` (from `python -X importtime`) so that a regression names its cause.

Run: .venv/bin/python benchmarks/cli_startup.py [--repeat N]
Exits 1 when either command's median is over 0.3 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

TARGET_SECONDS = 0.3
COMMANDS = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "auditor --help": [sys.executable, "-m", "auditor", "--help"],
    "auditor checks list": [sys.executable, "-m", "auditor", "checks", "list"],
}


def once(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def heaviest_imports(count: int = 8) -> list[tuple[int, str]]:
    """What `auditor --help` imports first-hand, by cumulative import time (microseconds)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "auditor", "--help"],
        capture_output=True,
        text=True,
        check=True,
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
    for argv in COMMANDS.values():
        once(argv)  # warm the file cache
    timings: dict[str, list[float]] = {label: [] for label in COMMANDS}
    for _ in range(args.repeat):
        for label, argv in COMMANDS.items():
            timings[label].append(once(argv))
    medians = {label: statistics.median(t) for label, t in timings.items()}
    base = medians["python -c pass (baseline)"]
    ok = True
    for label, median in medians.items():
        line = f"{label:28} median {median:.3f} s over {args.repeat} runs ({median / base:.1f}x)"
        if label.startswith("auditor"):
            within = median <= TARGET_SECONDS
            ok = ok and within
            line += f"; target <= {TARGET_SECONDS:g} s: {'OK' if within else 'OVER TARGET'}"
        print(line)
    print("heaviest direct imports under `auditor --help` (cumulative):")
    for us, name in heaviest_imports():
        print(f"  {us / 1e6:6.3f} s  {name}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
