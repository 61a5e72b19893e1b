"""Cost of the key-literal scanner against function-body size (pure Python, no cluster).

Generates PL/pgSQL bodies of 50 KB to 500 KB (statements calling pgcrypto and a wrapper with
the key as a parameter, comments and quoted strings) and nested-call bodies, times
`literal_keys` + `key_parameters` on each (median of --repeat runs), and prints every time
with its ratio to the smallest body. A linear scanner costs about 10x for 10x the size; the
quadratic one it replaced cost ~125x (a 480 KB body ran past a scan's 30 s limit). The
collector also stops reading a body at `code.MAX_BODY_CHARS`, which bounds the worst case.

Run: .venv/bin/python benchmarks/key_literals.py [--repeat N] [--max-ratio R]
Exits 1 when the 500 KB / 50 KB ratio exceeds --max-ratio (default 20), 0 otherwise.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from auditor.collectors.pg import key_literals as kl
from auditor.collectors.pg.code import MAX_BODY_CHARS

KEYS = {**kl.PGCRYPTO_KEY_ARGS, **kl.DESIGN_WRAPPERS}
LINE = (
    "  x := encrypt_text(p_a || 'abc', p_key); "
    "y := pgp_sym_encrypt(z, p_key, 'cipher-algo=aes256'); -- note\n"
)


def statements(chars: int) -> str:
    return "BEGIN\n" + LINE * (chars // len(LINE)) + "END"


def nested(chars: int) -> str:
    unit = len("pgp_sym_encrypt(") + len(", p_key)")
    depth = chars // unit
    return "pgp_sym_encrypt(" * depth + "x" + ", p_key)" * depth


def cost(src: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        toks = kl.tokens(src)
        kl.literal_keys(toks, KEYS, ("p_a", "p_key"))
        kl.key_parameters(toks, KEYS, ("p_a", "p_key"))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-ratio", type=float, default=20.0)
    args = parser.parse_args()
    sizes = (50_000, 100_000, 250_000, 500_000)
    print(f"collector cap per body: {MAX_BODY_CHARS} characters")
    worst = 0.0
    for label, make in (("statements", statements), ("nested calls", nested)):
        base = cost(make(sizes[0]), args.repeat)
        for size in sizes:
            t = base if size == sizes[0] else cost(make(size), args.repeat)
            ratio = t / base
            print(f"{label:13s} {size // 1000:4d} KB  {t * 1000:8.1f} ms  x{ratio:5.1f}")
            if size == sizes[-1]:
                worst = max(worst, ratio)
    verdict = "within" if worst <= args.max_ratio else "OVER"
    print(f"500 KB / 50 KB: x{worst:.1f} (target <= x{args.max_ratio:g}, linear ~x10): {verdict}")
    return 0 if worst <= args.max_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
