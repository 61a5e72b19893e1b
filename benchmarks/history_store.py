"""History store: what recording and reading runs costs, against the former folder history
(one results JSON file per run) as the baseline of the same run.

Measures on a SQLite file (and on PostgreSQL in a throwaway lab cluster with --postgres):
* saving one run of N findings (with the lifecycle lookup over the previous runs) against
  writing the same run as a results file;
* loading it back against reading that file;
* period evidence (per-control verdicts of every run) over D daily runs.

Run: .venv/bin/python benchmarks/history_store.py [--findings N] [--days D] [--postgres]
Exits 1 when saving costs more than 20x writing the JSON file or the period evidence of a
year of daily runs takes more than 60 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

from auditor.formatters.json_results import results_to_dict
from auditor.frameworks import controls_for
from auditor.history import load_results
from auditor.model import Result, ScanResults, Severity, Status, TargetOutcome, TargetStatus
from auditor.period import parse_period, period_evidence
from auditor.store import HistoryDB, with_lifecycle

CHECKS = [
    "audit.connection_logging",
    "auth.password_encryption",
    "auth.hba_no_trust",
    "transport.ssl_enabled",
    "column.plaintext_pii",
]
MAX_SAVE_RATIO = 20.0
MAX_PERIOD_SECONDS = 60.0


def make_run(run_id: str, day: dt.datetime, findings: int, targets: int) -> ScanResults:
    rows = []
    for i in range(findings):
        check = CHECKS[i % len(CHECKS)]
        status = Status.FAIL if (i + day.day) % 7 == 0 else Status.PASS
        rows.append(
            Result(
                check,
                f"db-{i % targets:03d}",
                status,
                Severity.HIGH,
                "title",
                "message about what was observed",
                resource=f"public.table_{i:05d}.email",
                evidence={"observed": i, "expected": "ciphertext"},
                controls=controls_for(check),
            )
        )
    stamp = day.isoformat(timespec="seconds").replace("+00:00", "Z")
    end = (day + dt.timedelta(minutes=5)).isoformat(timespec="seconds").replace("+00:00", "Z")
    return ScanResults(
        run_id,
        stamp,
        end,
        tuple(
            TargetOutcome(f"db-{t:03d}", "postgres", TargetStatus.SCANNED) for t in range(targets)
        ),
        tuple(sorted(rows, key=lambda r: r.sort_key)),
        "bench",
        scope=tuple(sorted(CHECKS)),
    )


def measure(url: str, label: str, findings: int, days: int, folder: Path) -> bool:
    start = dt.datetime(2026, 1, 1, 2, tzinfo=dt.UTC)
    ok = True
    with HistoryDB.open(url) as store:
        t0 = time.perf_counter()
        for d in range(days):
            store.save(make_run(f"day-{d:03d}", start + dt.timedelta(days=d), 50, 5))
        fill = time.perf_counter() - t0
        print(f"[{label}] {days} daily runs of 50 findings recorded in {fill:.1f} s")

        big = make_run("big", start + dt.timedelta(days=days), findings, 50)
        t0 = time.perf_counter()
        dated = with_lifecycle(big, store)
        store.save(dated)
        save = time.perf_counter() - t0
        t0 = time.perf_counter()
        store.load("big")
        load = time.perf_counter() - t0

        path = folder / f"{label}.results.json"
        t0 = time.perf_counter()
        path.write_text(json.dumps(results_to_dict(big), indent=2))
        write_json = time.perf_counter() - t0
        t0 = time.perf_counter()
        load_results(path)
        read_json = time.perf_counter() - t0
        ratio = save / write_json
        print(
            f"[{label}] one run of {findings} findings: save {save:.2f} s (with lifecycle) vs "
            f"results file {write_json:.2f} s -> {ratio:.1f}x (target <= {MAX_SAVE_RATIO:.0f}x); "
            f"load {load:.2f} s vs {read_json:.2f} s"
        )
        ok &= ratio <= MAX_SAVE_RATIO

        period = parse_period(f"2026-01-01..{(start + dt.timedelta(days=days - 1)).date()}")
        t0 = time.perf_counter()
        evidence = period_evidence(store, period, "daily", now=start + dt.timedelta(days=days))
        took = time.perf_counter() - t0
        print(
            f"[{label}] period evidence over {len(evidence.runs)} runs, "
            f"{len(evidence.controls)} controls: {took:.1f} s "
            f"(target <= {MAX_PERIOD_SECONDS:.0f} s)"
        )
        ok &= took <= MAX_PERIOD_SECONDS or days < 365
    return ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--findings", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ok &= measure(str(folder / "history.db"), "sqlite", args.findings, args.days, folder)
        if args.postgres:
            from auditor.lab.cluster import ADMIN_PASSWORD, ADMIN_USER, Cluster, Variant

            root = Path(__file__).resolve().parent.parent
            with Cluster(Variant.from_dir(root / "fixtures/postgres/compliant")) as pg:
                with pg.admin_connection(autocommit=True) as conn:
                    conn.execute("CREATE DATABASE bench_history")
                url = (
                    f"postgresql://{ADMIN_USER}:{ADMIN_PASSWORD}@localhost:{pg.port}/"
                    "bench_history?sslmode=require"
                )
                ok &= measure(url, "postgresql", args.findings, args.days, folder)
    print("all within targets" if ok else "ABOVE TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
