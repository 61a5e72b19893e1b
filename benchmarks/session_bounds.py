"""What the hardened session costs, and how fast it gives up on a server that stops answering.

Starts a throwaway lab cluster and prints:
* the median time to open a scan session (TLS login, pinned settings read back, closed),
  and the share of it spent verifying the pinned settings (one round trip of SHOWs);
* for a backend frozen with SIGSTOP after login (the server accepts the statement, never
  answers; the kernel still ACKs, so TCP timeouts cannot notice), the time until the
  watchdog severs the connection, against the bound it promises
  (statement_timeout + max(2 s, connect_timeout)).

Run: .venv/bin/python benchmarks/session_bounds.py [--repeat N]
Needs the PostgreSQL server binaries and permission to signal the server's processes (root
or the same user); takes about 15 s.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import time
from pathlib import Path

from auditor.collectors.base import CollectContext
from auditor.collectors.pg.session import PgSession
from auditor.collectors.pg.watchdog import StatementTimedOut
from auditor.config import parse_config
from auditor.lab.cluster import Cluster, Variant

PASSWORD = "bench-auditor-pw"  # a throwaway cluster's role, not a secret


def _ctx(cluster: Cluster, **extra: object) -> CollectContext:
    lines = [f"  - name: bench\n    dsn: '{cluster.dsn('auditor')}'"]
    lines += [f"    {k}: {v}" for k, v in extra.items()]
    config = parse_config("targets:\n" + "\n".join(lines) + "\n", "bench.yaml")
    return CollectContext(config.targets[0], PASSWORD, Path.cwd())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    seed = f"CREATE ROLE auditor LOGIN PASSWORD '{PASSWORD}' IN ROLE pg_monitor;"
    with Cluster(Variant(name="bench-session", seed_sql=seed)) as cluster:
        ctx = _ctx(cluster)
        opens: list[float] = []
        verifies: list[float] = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            session = PgSession.open(ctx)
            opens.append(time.perf_counter() - start)
            start = time.perf_counter()
            session.verify_pinned(ctx.pg)
            verifies.append(time.perf_counter() - start)
            session.close()
        print(
            f"session open (TLS login + pinned settings verified), median of {args.repeat}: "
            f"{statistics.median(opens) * 1000:.1f} ms"
        )
        verify_ms = statistics.median(verifies) * 1000
        print(f"  of which the verification round trip: {verify_ms:.2f} ms")

        ctx = _ctx(cluster, statement_timeout_ms=1000, connect_timeout_seconds=2)
        session = PgSession.open(ctx)
        pid = session.value("SELECT pg_catalog.pg_backend_pid()")
        os.kill(pid, signal.SIGSTOP)
        start = time.perf_counter()
        try:
            session.rows("SELECT 1")
            print("the frozen backend answered: nothing measured")
        except StatementTimedOut as exc:
            took = time.perf_counter() - start
            print(f"frozen backend: severed after {took:.2f} s (bound: 1 s + 2 s = 3 s): {exc}")
        finally:
            os.kill(pid, signal.SIGCONT)
            session.close()


if __name__ == "__main__":
    main()
