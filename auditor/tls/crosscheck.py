"""Cross-check against an independent implementation: testssl.sh with `--starttls postgres`.

Used by the transport tests and `benchmarks/tls_probe.py` to show that the gentle probe finds
the same accepted protocols and suites as a tool that tries every suite on its own (bash +
its own socket code, not Python's OpenSSL binding nor sslyze's nassl).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from auditor.tls.facts import TlsFacts

_PROTOCOL_IDS = {
    "SSLv2": "SSLv2",
    "SSLv3": "SSLv3",
    "TLS1": "TLSv1",
    "TLS1_1": "TLSv1.1",
    "TLS1_2": "TLSv1.2",
    "TLS1_3": "TLSv1.3",
}


@dataclass(frozen=True)
class CrosscheckView:
    protocols: frozenset[str]  # PostgreSQL spelling: TLSv1 ... TLSv1.3
    suites: frozenset[str]  # IANA names, all versions together (testssl's -e view)
    seconds: float


def find_testssl() -> str | None:
    return shutil.which("testssl") or shutil.which("testssl.sh")


def run_testssl(host: str, port: int, timeout: float = 180.0) -> CrosscheckView:
    """Run `testssl --starttls postgres -p -e` and read its JSON; raises RuntimeError."""
    binary = find_testssl()
    if binary is None:
        raise RuntimeError("testssl.sh is not installed (Debian package testssl.sh)")
    with tempfile.TemporaryDirectory(prefix="auditor-testssl-") as tmp:
        out = Path(tmp) / "out.json"
        started = time.monotonic()
        proc = subprocess.run(
            [
                binary,
                "--starttls",
                "postgres",
                "-p",
                "-e",
                "--quiet",
                "--color",
                "0",
                "--warnings",
                "batch",
                "--jsonfile",
                str(out),
                f"{host}:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        seconds = time.monotonic() - started
        if not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
            raise RuntimeError(f"testssl.sh wrote no JSON (exit {proc.returncode}): {tail}")
        entries = json.loads(out.read_text())
    protocols = {
        _PROTOCOL_IDS[e["id"]]
        for e in entries
        if e["id"] in _PROTOCOL_IDS and str(e["finding"]).startswith("offered")
    }
    suites = {str(e["finding"]).split()[-1] for e in entries if str(e["id"]).startswith("cipher_x")}
    return CrosscheckView(frozenset(protocols), frozenset(suites), seconds)


def probe_view(facts: TlsFacts) -> tuple[frozenset[str], frozenset[str]]:
    """The probe's accepted protocols and suites in the same shape as testssl's view."""
    protocols = frozenset(facts.accepted_versions())
    suites = frozenset(s.iana_name for p in facts.protocols if p.accepted for s in p.suites)
    return protocols, suites
