"""The part of the probe done with sslyze's Python API: the certificate chain and TLS 1.3 suites.

Only explicit scan commands are queued (CERTIFICATE_INFO, and TLS_1_3_CIPHER_SUITES when the
server speaks TLS 1.3: OpenSSL's `ssl` module cannot choose TLS 1.3 suites). sslyze's own
connectivity test and these commands cost about a dozen handshakes, which is why the
per-version suite enumeration for TLS 1.2 and older is done by `auditor.tls.probe` instead.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning
from sslyze.connection_helpers.opportunistic_tls_helpers import ProtocolWithOpportunisticTlsEnum
from sslyze.plugins.certificate_info.implementation import CertificateInfoExtraArgument
from sslyze.plugins.scan_commands import ScanCommand
from sslyze.scanner.models import (
    ScanCommandsExtraArguments,
    ServerConnectivityStatusEnum,
    ServerScanRequest,
)
from sslyze.scanner.scan_command_attempt import ScanCommandAttemptStatusEnum
from sslyze.scanner.scanner import Scanner
from sslyze.server_setting import ServerNetworkConfiguration, ServerNetworkLocation

from auditor.tls.starttls import Endpoint

# sslyze's bundled trust stores hold a root with a non-positive serial; cryptography warns on
# every load, which would only be noise in a scan's output. (A process-wide filter: the scan
# runs in sslyze's worker threads, where catch_warnings() would not be thread-safe.)
warnings.filterwarnings(
    "ignore", "Parsed a serial number which wasn't positive", CryptographyDeprecationWarning
)


@dataclass
class SslyzeOutcome:
    chain: list[x509.Certificate] = field(default_factory=list)
    tls13_suites: list[tuple[str, str]] | None = None  # (IANA, OpenSSL) names
    commands: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _first_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "unknown error"


def _text(trace: object | None) -> str | None:
    # sslyze keeps failures as TracebackException objects; their str() is the message only.
    return None if trace is None else str(trace)


def scan(endpoint: Endpoint, root_file: Path | None, want_tls13: bool) -> SslyzeOutcome:
    commands = {ScanCommand.CERTIFICATE_INFO}
    if want_tls13:
        commands.add(ScanCommand.TLS_1_3_CIPHER_SUITES)
    extra = ScanCommandsExtraArguments()
    if root_file is not None and root_file.is_file():
        extra = ScanCommandsExtraArguments(
            certificate_info=CertificateInfoExtraArgument(custom_ca_file=root_file)
        )
    request = ServerScanRequest(
        server_location=ServerNetworkLocation(
            hostname=endpoint.host, port=endpoint.port, ip_address=endpoint.address
        ),
        network_configuration=ServerNetworkConfiguration(
            tls_server_name_indication=endpoint.host,
            tls_opportunistic_encryption=ProtocolWithOpportunisticTlsEnum.POSTGRES,
            network_timeout=max(1, round(endpoint.timeout)),
            network_max_retries=1,  # gentle: a refused handshake is an answer, not a glitch
        ),
        scan_commands=commands,
        scan_commands_extra_arguments=extra,
    )
    outcome = SslyzeOutcome(commands=sorted(c.value for c in commands))
    _collect(request, want_tls13, outcome)
    return outcome


def _collect(request: ServerScanRequest, want_tls13: bool, outcome: SslyzeOutcome) -> None:
    scanner = Scanner(per_server_concurrent_connections_limit=1, concurrent_server_scans_limit=1)
    scanner.queue_scans([request])
    for result in scanner.get_results():
        if result.connectivity_status is not ServerConnectivityStatusEnum.COMPLETED:
            trace = result.connectivity_error_trace
            outcome.problems.append(f"sslyze could not connect: {_first_line(_text(trace))}")
            continue
        scan_result = result.scan_result
        if scan_result is None:
            continue
        cert = scan_result.certificate_info
        if cert.status is ScanCommandAttemptStatusEnum.COMPLETED and cert.result is not None:
            deployments = cert.result.certificate_deployments
            if deployments:
                outcome.chain = list(deployments[0].received_certificate_chain)
        else:
            why = _first_line(_text(cert.error_trace))
            outcome.problems.append(f"certificate scan failed ({cert.error_reason}): {why}")
        if want_tls13:
            tls13 = scan_result.tls_1_3_cipher_suites
            if tls13.status is ScanCommandAttemptStatusEnum.COMPLETED and tls13.result:
                outcome.tls13_suites = [
                    (s.cipher_suite.name, s.cipher_suite.openssl_name)
                    for s in tls13.result.accepted_cipher_suites
                ]
            else:
                outcome.problems.append(f"TLS 1.3 suite scan failed: {tls13.error_reason}")
