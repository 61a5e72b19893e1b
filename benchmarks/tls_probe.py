"""How gentle is the TLS probe? Auditor's probe vs the sslyze CLI vs testssl.sh, same servers.

Starts throwaway clusters (the `transport-compliant` and `transport-weak` fixtures and a
wide-open variant accepting every suite, all with log_connections = on so every TCP connection
- one handshake attempt at most - leaves a line), runs each tool once against each, and prints
side by side:

* wall time of the scan;
* connections (= handshake attempts) the server saw, counted from its log;
* server log lines the scan added, in total and without the "connection received" lines
  (what a server with log_connections = off would have logged);
* whether testssl.sh saw the same accepted protocols and suites as Auditor's probe.

Run: python benchmarks/tls_probe.py [--skip-sslyze-cli] [--skip-testssl]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from auditor.lab.certs import CertSpec
from auditor.lab.cluster import Cluster, Variant
from auditor.tls.crosscheck import find_testssl, probe_view, run_testssl
from auditor.tls.probe import ProbeRequest, probe

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "postgres"
SERVERS = {
    "compliant": ("transport-compliant", CertSpec()),
    "weak": ("transport-weak", CertSpec(not_after_days=-5, not_before_days=-400)),
    # The probe's worst case: TLS 1.0-1.3 and every suite this OpenSSL has (~60 per version).
    # tests/transport (test_probe.py) holds the probe to <= 100 log lines on it.
    "wide-open": ("transport-weak", CertSpec()),
}
WIDE_OPEN = (
    "ssl_min_protocol_version = 'TLSv1'\nssl_max_protocol_version = ''\n"
    "ssl_ciphers = 'ALL:@SECLEVEL=0'\n"
)


@dataclass
class Measure:
    tool: str
    server: str
    seconds: float
    connections: int
    lines: int
    error_lines: int
    note: str = ""


def _measure(tool: str, server: str, cluster: Cluster, run: Callable[[], str]) -> Measure:
    before = cluster.log_text().splitlines()
    started = time.monotonic()
    note = run()
    seconds = time.monotonic() - started
    time.sleep(0.5)  # the server logs the last disconnects after the tool returns
    added = cluster.log_text().splitlines()[len(before) :]
    connections = sum("connection received" in line for line in added)
    return Measure(tool, server, seconds, connections, len(added), len(added) - connections, note)


def _auditor(cluster: Cluster, seen: dict[str, object]) -> Callable[[], str]:
    def run() -> str:
        assert cluster.certs is not None
        facts = probe(ProbeRequest("localhost", cluster.port, 10.0, cluster.certs.ca_cert))
        seen["auditor"] = probe_view(facts)
        return (
            f"{facts.handshakes} handshakes, through sslyze's connection class: "
            f"{', '.join(facts.sslyze_commands)}"
        )

    return run


def _sslyze_cli(cluster: Cluster) -> Callable[[], str]:
    def run() -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "sslyze", "--starttls", "postgres", f"localhost:{cluster.port}"],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        # Exit 1 is sslyze's own verdict: not compliant with its Mozilla profile check.
        return f"default scan commands, exit {proc.returncode}"

    return run


def _testssl(cluster: Cluster, seen: dict[str, object]) -> Callable[[], str]:
    def run() -> str:
        view = run_testssl("127.0.0.1", cluster.port, timeout=900)
        seen["testssl"] = (view.protocols, view.suites)
        return "-p -e (protocols, every suite)"

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-sslyze-cli", action="store_true")
    parser.add_argument("--skip-testssl", action="store_true")
    args = parser.parse_args()
    if find_testssl() is None and not args.skip_testssl:
        sys.exit("testssl.sh is not installed (apt-get install testssl.sh) or use --skip-testssl")

    rows: list[Measure] = []
    agreement: list[str] = []
    for server, (folder, spec) in SERVERS.items():
        variant = Variant.from_dir(FIXTURES / folder, tls=spec)
        if server == "wide-open":
            variant = replace(variant, name=server, settings=variant.settings + WIDE_OPEN)
        with Cluster(variant) as cluster:
            seen: dict[str, object] = {}
            rows.append(_measure("auditor probe", server, cluster, _auditor(cluster, seen)))
            if not args.skip_sslyze_cli:
                rows.append(_measure("sslyze CLI", server, cluster, _sslyze_cli(cluster)))
            if not args.skip_testssl:
                rows.append(_measure("testssl.sh", server, cluster, _testssl(cluster, seen)))
                same = seen["auditor"] == seen["testssl"]
                agreement.append(
                    f"{server}: testssl.sh and Auditor agree on protocols and suites: {same}"
                )

    header = f"{'server':<10} {'tool':<14} {'wall s':>7} {'handshakes':>10} {'log lines':>9} "
    header += f"{'w/o conn':>8}  note"
    print(header)
    print("-" * len(header))
    for m in rows:
        print(
            f"{m.server:<10} {m.tool:<14} {m.seconds:>7.2f} {m.connections:>10} {m.lines:>9} "
            f"{m.error_lines:>8}  {m.note}"
        )
    print()
    print("handshakes = TCP connections the server logged (each carries at most one handshake);")
    print("log lines = lines the scan added with log_connections = on; w/o conn = without the")
    print("'connection received' lines, i.e. what a server with log_connections = off logs.")
    for line in agreement:
        print(line)


if __name__ == "__main__":
    main()
