"""Time of loading config files, good and hostile, through the bounded YAML loader.

Cases: a realistic config (50 targets with anchors and merge keys), a large one (2,000
targets), a "billion laughs" alias bomb, a 400 KB single line of 200,000 values, and a file
nested 5,000 levels deep. Each is loaded with libyaml (used when PyYAML has it) and with the
pure-Python parser, to show why the fast one is preferred. Prints seconds per load (best of
--repeat) and whether the load succeeded or was refused.

Run: .venv/bin/python benchmarks/yaml_loading.py [--repeat N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import yaml

import auditor.config as config
from auditor.config import ConfigError, parse_config

DSN = "postgresql://auditor@db{i}.example.com/app?sslmode=verify-full"


def targets(n: int) -> str:
    head = (
        "x-defaults: &defaults\n  kind: postgres\n  tls_probe: false\n"
        "  statement_timeout_ms: 2000\n"
    )
    body = "".join(
        f"  - <<: *defaults\n    name: db{i}\n    dsn: '{DSN.format(i=i)}'\n"
        "    sensitive_columns: [users.email, users.phone]\n"
        for i in range(n)
    )
    return head + "targets:\n" + body


def bomb(levels: int = 10) -> str:
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + f"\ntargets: *l{levels - 1}\n"


CASES: dict[str, Callable[[], str]] = {
    "50 targets, merge keys": lambda: targets(50),
    "2,000 targets": lambda: targets(2000),
    "billion laughs (10^9 values)": bomb,
    "one line, 200,000 values": lambda: "targets: [" + "a," * 200_000 + "]\n",
    "nested 5,000 deep": lambda: "targets: " + "[" * 5000 + "]" * 5000 + "\n",
}


def time_load(text: str, repeat: int) -> tuple[float, str]:
    best, outcome = float("inf"), ""
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            loaded = parse_config(text, "bench.yaml")
            outcome = f"ok ({len(loaded.targets)} targets)"
        except ConfigError as exc:
            outcome = "refused: " + str(exc).split(": ", 2)[-1][:60]
        best = min(best, time.perf_counter() - start)
    return best, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    fast = config._FAST_LOADER
    loaders = [("libyaml", fast)] if fast is not yaml.SafeLoader else []
    loaders.append(("pure Python", yaml.SafeLoader))
    print(f"{'case':32} {'bytes':>9} {'loader':12} {'seconds':>8}  outcome")
    for name, make in CASES.items():
        text = make()
        for label, loader in loaders:
            config._FAST_LOADER = loader
            seconds, outcome = time_load(text, args.repeat)
            print(f"{name:32} {len(text):9d} {label:12} {seconds:8.3f}  {outcome}")
    config._FAST_LOADER = fast


if __name__ == "__main__":
    main()
