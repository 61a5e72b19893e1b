"""How long the PDF report takes for a large scan: 1,000 failing findings (plus the passes and
the manifest that come with them) across 10 targets, rendered by the `pdf` formatter.

Run: python benchmarks/pdf_render.py [--findings N] [--repeat R]
Prints the HTML rendering time, the PDF time (best and median of R runs) and the page count.
The target on a developer machine is <= 5 s for 1,000 findings.
"""

from __future__ import annotations

import argparse
import html
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable

from auditor.formatters.base import RenderOptions
from auditor.formatters.html import render_html
from auditor.formatters.pdf import render_pdf
from auditor.frameworks import controls_for
from auditor.model import Result, ScanResults, Severity, Status, TargetOutcome, TargetStatus

CHECKS = [
    ("column.plaintext_pii", Severity.CRITICAL, "No undeclared column holds plaintext PII"),
    ("column.sensitive_encrypted", Severity.CRITICAL, "Sensitive columns hold ciphertext"),
    ("column.cipher_strength", Severity.HIGH, "Column ciphertext uses a strong cipher"),
    ("auth.hba_strong_methods", Severity.HIGH, "pg_hba.conf uses strong methods only"),
    ("transport.cipher_suites", Severity.HIGH, "Only policy cipher suites are accepted"),
    ("auth.hba_network_scope", Severity.MEDIUM, "No pg_hba rule admits the whole internet"),
    ("keys.secret_rotation_age", Severity.HIGH, "Secrets are rotated within policy"),
    ("audit.access_log_append_only", Severity.HIGH, "The access log is append-only"),
]


def synthetic_results(n_findings: int, n_targets: int = 10) -> ScanResults:
    findings = []
    for i in range(n_findings):
        check_id, severity, title = CHECKS[i % len(CHECKS)]
        target = f"db-{i % n_targets:02d}"
        resource = f"schema_{i // 40}.table_{i % 40}.col_{i % 7}"
        findings.append(
            Result(
                check_id=check_id,
                target=target,
                status=Status.FAIL,
                severity=severity,
                title=title,
                message=f"{resource}: 12 of 200 sampled values look like e-mail addresses",
                resource=resource,
                evidence={
                    "kind": "email",
                    "matches": 12,
                    "sampled": 200,
                    "masked_examples": ["j***@e***.com", "a***@b***.org"],
                    "query": f"SELECT col FROM {resource} TABLESAMPLE SYSTEM (1) LIMIT 200",
                },
                remediation="Encrypt the column with pgp_sym_encrypt(..., 'cipher-algo=aes256') "
                "or drop it; declare it under sensitive_columns.",
                controls=controls_for(check_id),
            )
        )
    for t in range(n_targets):
        findings.append(
            Result(
                check_id="transport.ssl_enabled",
                target=f"db-{t:02d}",
                status=Status.PASS,
                severity=Severity.CRITICAL,
                title="TLS is enabled on the server",
                message="ssl = on (postgresql.conf:12)",
                evidence={"ssl": {"setting": "ssl", "value": "on", "source": "postgresql.conf:12"}},
                controls=controls_for("transport.ssl_enabled"),
            )
        )
    return ScanResults(
        run_id="bench",
        started_at="2026-11-20T09:00:00Z",
        finished_at="2026-11-20T09:05:00Z",
        targets=tuple(
            TargetOutcome(f"db-{t:02d}", "postgres", TargetStatus.SCANNED) for t in range(n_targets)
        ),
        findings=tuple(sorted(findings, key=lambda r: r.sort_key)),
        tool_version="bench",
        config_digest="sha256:" + "0" * 64,
    )


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


def page_count(pdf: bytes) -> str:
    if shutil.which("pdfinfo") is None:
        return "?"
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(pdf)
        handle.flush()
        info = subprocess.run(["pdfinfo", handle.name], capture_output=True, text=True).stdout
    return next((line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")), "?")


def timed(render: Callable[[], bytes], repeat: int) -> tuple[list[float], list[float], bytes]:
    wall, cpu, out = [], [], b""
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = render()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also time a naive one-table rendering of the same findings",
    )
    args = parser.parse_args()
    results = synthetic_results(args.findings)
    options = RenderOptions()
    render_pdf(synthetic_results(5), options)  # warm up imports and fonts, not measured
    start = time.perf_counter()
    document = render_html(results, options)
    print(
        f"findings: {args.findings}  html: {len(document) / 1e6:.2f} MB "
        f"in {time.perf_counter() - start:.2f} s"
    )
    runs = [("report pdf", lambda: render_pdf(results, options))]
    if args.baseline:
        runs.append(("naive table", lambda: naive_table_pdf(results)))
    for name, render in runs:
        wall, cpu, pdf = timed(render, args.repeat)
        # On a shared machine wall time includes waiting for a core; CPU time does not.
        print(
            f"{name}: wall best {min(wall):.2f} s median {statistics.median(wall):.2f} s | "
            f"cpu best {min(cpu):.2f} s median {statistics.median(cpu):.2f} s | "
            f"{page_count(pdf)} pages, {len(pdf) / 1e6:.2f} MB ({args.repeat} runs)"
        )


if __name__ == "__main__":
    main()
