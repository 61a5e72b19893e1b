"""The part of the probe done with sslyze's connection class and nassl's two OpenSSL builds.

Python's `ssl` (the system OpenSSL 3) cannot choose TLS 1.3 suites, return the certificate chain
(before Python 3.13), speak SSLv3 or offer 3DES, RC4, DES, IDEA, SEED, RC2, EXPORT or static
DH/ECDH suites. sslyze's `SslConnection` can, with nassl's modern client (OpenSSL 1.1.1) or its
legacy client (`LegacySslClient`, OpenSSL 1.0.2), over PostgreSQL's STARTTLS.

sslyze's `Scanner` is not used: its connectivity test, four certificate handshakes and one
handshake per TLS 1.3 suite cost ~11 connections, most ending in a TCP reset the server logs.
The probe already knows what the server accepts, so it drives `SslConnection` itself, one
handshake per question, and closes every completed handshake with close_notify on a drained
socket, which PostgreSQL does not log.
"""

from __future__ import annotations

import contextlib
import socket
import warnings
from dataclasses import dataclass
from functools import cache

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning
from nassl import _nassl
from nassl.legacy_ssl_client import LegacySslClient
from nassl.ssl_client import OpenSslVersionEnum
from sslyze.connection_helpers.opportunistic_tls_helpers import ProtocolWithOpportunisticTlsEnum
from sslyze.connection_helpers.tls_connection import SslConnection
from sslyze.errors import (
    ConnectionToServerFailed,
    ServerRejectedTlsHandshake,
    ServerTlsConfigurationNotSupported,
)
from sslyze.server_connectivity import TlsVersionEnum
from sslyze.server_setting import ServerNetworkConfiguration, ServerNetworkLocation

from auditor.tls.starttls import Endpoint
from auditor.tls.suites import system_suite_names

# sslyze's bundled trust stores hold a root with a non-positive serial; cryptography warns on
# every load, which would only be noise in a scan's output.
warnings.filterwarnings(
    "ignore", "Parsed a serial number which wasn't positive", CryptographyDeprecationWarning
)

_VERSIONS = {
    "SSLv3": TlsVersionEnum.SSL_3_0,
    "TLSv1": TlsVersionEnum.TLS_1_0,
    "TLSv1.1": TlsVersionEnum.TLS_1_1,
    "TLSv1.2": TlsVersionEnum.TLS_1_2,
    "TLSv1.3": TlsVersionEnum.TLS_1_3,
}
# Every TLS 1.3 suite OpenSSL 1.1.1 implements (the system `ssl` offers only the first three).
TLS13_SUITES = (
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_128_CCM_SHA256",
    "TLS_AES_128_CCM_8_SHA256",
)
_MODERN_ALL = "ALL:COMPLEMENTOFALL:@SECLEVEL=0"
# SRP and PSK suites need credentials of their own: no server picks them for a plain client.
_LEGACY_ALL = "ALL:COMPLEMENTOFALL:-PSK:-SRP"
# sslyze's words for a server answering in another protocol version: the version is refused.
_VERSION_REFUSALS = frozenset({"TLS error: wrong version number", "TLS error: wrong SSL version"})


@cache
def legacy_client_suites() -> tuple[str, ...]:
    """Every suite the legacy client (OpenSSL 1.0.2) can offer, OpenSSL names, its order."""
    client = LegacySslClient(ssl_version=OpenSslVersionEnum.TLSV1_2)
    client.set_cipher_list(_LEGACY_ALL)
    return tuple(client.get_cipher_list())


@cache
def legacy_only_suites() -> tuple[str, ...]:
    """The legacy client's suites that the system OpenSSL cannot offer at all."""
    system = system_suite_names()
    return tuple(name for name in legacy_client_suites() if name not in system)


@dataclass(frozen=True)
class NasslHandshake:
    accepted: bool
    cipher: str | None = None  # OpenSSL name (TLS 1.3: the IANA name)
    chain: tuple[x509.Certificate, ...] = ()  # leaf first, when asked for
    failure: str | None = None  # one line, when not accepted
    # The server answered with an alert: it has nothing in common with the offer (a hang-up,
    # a timeout or a client-side error proves nothing).
    refused: bool = False


def _one_line(text: object) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "unknown error"


def _close_quietly(connection: SslConnection) -> None:
    """close_notify, then wait for the server's EOF: closing with unread data (TLS 1.3 session
    tickets) would send a TCP reset, which the server logs as a client error."""
    client = connection.ssl_client
    sock = client.get_underlying_socket()
    with contextlib.suppress(Exception):
        # nassl's own shutdown() closes the socket before its close_notify leaves the engine.
        client._ssl.shutdown()
        client._flush_ssl_engine()
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(4096):
            pass
    sock.close()


class SslyzeClient:
    """Handshakes through sslyze's `SslConnection`, counted, all reaching one address."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.location = ServerNetworkLocation(
            hostname=endpoint.host, port=endpoint.port, ip_address=endpoint.address
        )
        self.network = ServerNetworkConfiguration(
            tls_server_name_indication=endpoint.host,
            tls_opportunistic_encryption=ProtocolWithOpportunisticTlsEnum.POSTGRES,
            network_timeout=max(1, round(endpoint.timeout)),
            network_max_retries=1,  # gentle: a refused handshake is an answer, not a glitch
        )
        self.count = 0

    def handshake(
        self,
        version: str,
        suites: tuple[str, ...] | None = None,
        *,
        legacy: bool = False,
        want_chain: bool = False,
    ) -> NasslHandshake:
        """One handshake offering only `version` and `suites` (None: every suite the client
        has; TLS 1.3: TLS 1.3 suite names), with the legacy client when `legacy`."""
        connection = SslConnection(
            server_location=self.location,
            network_configuration=self.network,
            tls_version=_VERSIONS[version],
            should_ignore_client_auth=True,  # PostgreSQL only ever asks for an optional one
            should_use_legacy_openssl=legacy,
        )
        client = connection.ssl_client
        if version == "TLSv1.3":
            client.set_ciphersuites(":".join(suites or TLS13_SUITES))  # type: ignore[attr-defined]
            client.set_cipher_list(_MODERN_ALL)  # the security level applies to TLS 1.3 too
        elif legacy:
            client.set_cipher_list(":".join(suites) if suites else _LEGACY_ALL)
        else:
            client.set_cipher_list(":".join([*(suites or ["ALL:COMPLEMENTOFALL"]), "@SECLEVEL=0"]))
        self.count += 1
        try:
            connection.connect(should_retry_connection=False)
        except ServerTlsConfigurationNotSupported as exc:  # e.g. "DH key too small" (client side)
            connection.close()
            return NasslHandshake(False, failure=f"client gave up: {exc.error_message}")
        except ServerRejectedTlsHandshake as exc:
            connection.close()
            message = exc.error_message.strip()
            refused = message.startswith("TLS alert") or message in _VERSION_REFUSALS
            return NasslHandshake(False, failure=f"handshake refused: {message}", refused=refused)
        except ConnectionToServerFailed as exc:  # timeouts, resets, 'N' to the SSLRequest
            connection.close()
            return NasslHandshake(False, failure=_one_line(exc.error_message))
        except (_nassl.OpenSSLError, OSError) as exc:
            with contextlib.suppress(Exception):
                connection.close()
            return NasslHandshake(False, failure=f"handshake failed: {_one_line(exc)}")
        try:
            cipher = client.get_current_cipher_name()
            chain: tuple[x509.Certificate, ...] = ()
            if want_chain:
                chain = tuple(
                    x509.load_pem_x509_certificate(pem.encode())
                    for pem in client.get_received_chain()
                )
        finally:
            _close_quietly(connection)
        return NasslHandshake(True, cipher=cipher, chain=chain)
