"""The PDF report at fleet scale: 300 targets with 100 / 1,000 / 10,000 findings (synthetic,
see benchmarks/fleet_results.py), rendered by the `pdf` formatter, against the naive
WeasyPrint rendering of the same findings as one plain table (measured in the same run).

Each rendering runs in its own process, so its peak resident memory is its own. Prints, per
size: pages, wall time, CPU time, peak RSS, and the target for each. Module imports (WeasyPrint
and its fonts, the check catalog) happen before the clock starts, as in any process that
renders more than once; the catalog import's own CPU time is printed beside the figures.

Run: .venv/bin/python benchmarks/pdf_render.py [--sizes 100,1000,10000] [--targets 300]
     [--repeat 3] [--no-baseline] [--gate cpu|wall]
Targets (issue: performance at estate scale): 1,000 findings <= 3 s, 10,000 findings <= 30 s,
peak RSS <= 300 MB. On a shared machine wall time includes waiting for a core, so the gate
uses CPU time unless `--gate wall`; both are printed. Each report is rendered `--repeat` times
(a fresh process each) and gated on the median, like the other benchmarks' medians of 3: one
render's CPU time on a 2-vCPU machine moves by up to a fifth with what the other vCPU does.
The naive baseline is rendered once. Exits 1 when a median is over its target.
"""

from __future__ import annotations

import argparse
import html
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a fresh clone
    sys.path.insert(0, str(ROOT))

from auditor.model import ScanResults  # noqa: E402
from benchmarks.fleet_results import fleet_results  # noqa: E402

TIME_TARGET = {100: 3.0, 1000: 3.0, 10000: 30.0}  # seconds
RSS_TARGET_MB = 300.0


def synthetic_results(n_findings: int, n_targets: int = 300) -> ScanResults:
    return fleet_results(n_findings, n_targets)


def naive_table_pdf(results: ScanResults) -> bytes:
    """The baseline: the same findings as one plain HTML table, one row each."""
    from weasyprint import HTML

    rows = "".join(
        f"<tr><td>{html.escape(f.target)}</td><td>{html.escape(f.check_id)}</td>"
        f"<td>{html.escape(f.resource or '')}</td><td>{html.escape(f.message)}</td>"
        f"<td>{html.escape(str(f.evidence))}</td></tr>"
        for f in results.findings
    )
    style = "@page { size: A4; margin: 15mm } td { border: 1px solid #ccc; font-size: 7pt }"
    pdf: bytes = HTML(string=f"<style>{style}</style><table>{rows}</table>").write_pdf()
    return pdf


def page_count(pdf: bytes) -> int:
    """Pages as poppler's pdfinfo reads them (0 when it is not installed)."""
    if shutil.which("pdfinfo") is None:
        return 0
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(pdf)
        handle.flush()
        info = subprocess.run(["pdfinfo", handle.name], capture_output=True, text=True).stdout
    pages = [line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")]
    return int(pages[0]) if pages else 0


def worker(kind: str, n_findings: int, n_targets: int) -> None:
    """Render once in this process and print one JSON line of measurements."""
    from weasyprint import HTML

    from auditor.formatters.base import RenderOptions
    from auditor.formatters.pdf import render_pdf

    HTML(string="<p>warm up</p>").write_pdf()  # imports and fonts, not measured
    results = synthetic_results(n_findings, n_targets)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage.ru_utime + usage.ru_stime
    if kind == "report":
        # Module imports, like WeasyPrint's above: the matrices explain why a check did not
        # run from the check catalog, which imports every check module once per process.
        # Measured and printed, not counted in the render.
        from auditor.catalog import all_checks

        all_checks()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    imports = usage.ru_utime + usage.ru_stime - cpu0
    cpu0 = usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    pdf = render_pdf(results, RenderOptions()) if kind == "report" else naive_table_pdf(results)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": usage.ru_utime + usage.ru_stime - cpu0,
                "rss_mb": usage.ru_maxrss / 1024,  # kilobytes on Linux
                "imports": imports,
                "pages": page_count(pdf),
                "bytes": len(pdf),
            }
        )
    )


def median_run(kind: str, n_findings: int, n_targets: int, repeat: int) -> dict[str, Any]:
    """`repeat` renderings: the median of each figure (peak RSS: the largest), and the CPU
    times of every run."""
    runs = [measure(kind, n_findings, n_targets) for _ in range(max(1, repeat))]
    out: dict[str, Any] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    out["rss_mb"] = max(r["rss_mb"] for r in runs)
    out["cpu_runs"] = [r["cpu"] for r in runs]
    return out


def measure(kind: str, n_findings: int, n_targets: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--worker", kind, str(n_findings), "--targets", str(n_targets)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"{kind} rendering of {n_findings} findings failed:\n{done.stderr[-2000:]}")
    measured: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--targets", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3, help="renders per size (median)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--gate", choices=("cpu", "wall"), default="cpu")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "FINDINGS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), args.targets)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    failed = False
    per_finding: dict[int, float] = {}
    print(f"PDF report, {args.targets} targets (gate on {args.gate} time)")
    for n in sizes:
        mine = median_run("report", n, args.targets, args.repeat)
        limit = TIME_TARGET.get(n, 30.0 * n / 10000)
        over = mine[args.gate] > limit or mine["rss_mb"] > RSS_TARGET_MB
        failed |= over
        per_finding[n] = mine[args.gate] / n
        line = (
            f"{n:>6} findings  report: {int(mine['pages']):>4} pages  "
            f"wall {mine['wall']:6.2f} s  cpu {mine['cpu']:6.2f} s  "
            f"(median of {len(mine['cpu_runs'])}: "
            f"{', '.join(f'{c:.2f}' for c in mine['cpu_runs'])} s cpu)  "
            f"peak RSS {mine['rss_mb']:5.0f} MB  "
            f"(target <= {limit:g} s, <= {RSS_TARGET_MB:g} MB: {'OVER' if over else 'ok'}; "
            f"check catalog import {mine['imports']:.2f} s cpu, once per process, not counted)"
        )
        print(line, flush=True)
        if not args.no_baseline:
            base = measure("naive", n, args.targets)
            print(
                f"{'':>6}           naive: {int(base['pages']):>4} pages  "
                f"wall {base['wall']:6.2f} s  cpu {base['cpu']:6.2f} s  "
                f"peak RSS {base['rss_mb']:5.0f} MB  "
                f"(report/naive {args.gate} time {mine[args.gate] / base[args.gate]:.2f}x)",
                flush=True,
            )
    if len(per_finding) > 1:
        small, big = min(per_finding), max(per_finding)
        ratio = (per_finding[big] * big) / (per_finding[small] * small)
        print(
            f"growth: {big} findings cost {ratio:.1f}x {small} findings "
            f"({big / small:g}x the findings; linear or better when the ratio is at most that)"
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
