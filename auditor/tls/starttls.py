"""One PostgreSQL STARTTLS handshake with the local OpenSSL, pinned to a version and a suite list.

PostgreSQL speaks TLS only after the client's SSLRequest (8 bytes) is answered with `S`. A
handshake that completes is closed with a close_notify before the socket is shut, which the
server accepts silently; only handshakes it has to refuse leave a line in its log.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import warnings
from dataclasses import dataclass

SSL_REQUEST = struct.pack("!II", 8, 80877103)

OPENSSL_VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


class Unreachable(Exception):
    """The TCP connection itself failed: nothing about TLS can be said."""


@dataclass(frozen=True)
class Endpoint:
    host: str  # as the client names it (SNI, hostname checks)
    port: int
    timeout: float
    address: str | None = None  # the IP that answered first; reused so all probes hit one box

    def connect(self) -> socket.socket:
        target = self.address or self.host
        try:
            sock = socket.create_connection((target, self.port), timeout=self.timeout)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            if isinstance(exc, TimeoutError | socket.timeout):
                reason = f"no answer within {self.timeout:g} s"
            raise Unreachable(f"cannot connect to {self.host}:{self.port}: {reason}") from None
        return sock


@dataclass(frozen=True)
class Handshake:
    accepted: bool
    version: str | None = None
    cipher: str | None = None  # OpenSSL name of the negotiated suite
    failure: str | None = None  # one line, when not accepted
    server_closed: bool = False  # the server dropped the connection instead of an alert
    # The server's answer to the SSLRequest: 'S', 'N', or None (no answer, closed, other).
    answer: str | None = "S"
    address: str | None = None  # the IP that answered
    # The server completed the exchange with an alert: it has nothing in common with the offer
    # (as opposed to hanging up or timing out, which prove nothing).
    refused: bool = False
    # Set when the client itself refused the server's certificate (verification handshakes):
    # OpenSSL's X509_V_ERR_* code and its one-line reason.
    verify_code: int | None = None
    verify_message: str | None = None


def context(version: str, ciphers: str | None) -> ssl.SSLContext:
    """A client context offering only `version` and the suites in `ciphers` (raises
    ssl.SSLError when the string selects no suite)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # trust is judged in its own handshake (verify.py)
    with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated: probing them is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = OPENSSL_VERSIONS[version]
        ctx.maximum_version = OPENSSL_VERSIONS[version]
    if ciphers is not None:
        ctx.set_ciphers(ciphers)  # raises ssl.SSLError when the string selects nothing
    return ctx


def handshake_with(endpoint: Endpoint, ctx: ssl.SSLContext) -> Handshake:
    """One STARTTLS handshake with a context the caller prepared: `context()` for a version
    and suite list, or one that verifies (verify.py)."""
    sock = endpoint.connect()
    try:
        address = str(sock.getpeername()[0])
        try:
            sock.sendall(SSL_REQUEST)
            answer = sock.recv(1)
        except TimeoutError:
            return Handshake(
                False,
                failure=f"no answer to the SSLRequest within {endpoint.timeout:g} s",
                answer=None,
            )
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            return Handshake(
                False, failure=f"SSLRequest failed: {reason}", answer=None, server_closed=True
            )
        if answer == b"N":
            return Handshake(
                False, failure="server answered 'N' to the SSLRequest", answer="N", address=address
            )
        if answer != b"S":
            said = "closed the connection" if not answer else f"answered {answer!r}"
            return Handshake(
                False,
                failure=f"server {said} instead of answering the SSLRequest",
                answer=None,
                server_closed=not answer,
            )
        return _tls(ctx, sock, endpoint, address)
    finally:
        sock.close()


def _tls(ctx: ssl.SSLContext, sock: socket.socket, endpoint: Endpoint, address: str) -> Handshake:
    hung_up = "server {} the connection during the handshake"
    try:
        tls = ctx.wrap_socket(sock, server_hostname=endpoint.host)
    except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
        return Handshake(False, failure=hung_up.format("closed"), server_closed=True)
    except ssl.SSLCertVerificationError as exc:
        # Our side refused the certificate: not the server refusing the offer.
        return Handshake(
            False,
            failure=f"certificate verify failed: {exc.verify_message}",
            address=address,
            verify_code=exc.verify_code,
            verify_message=str(exc.verify_message),
        )
    except ssl.SSLError as exc:
        reason = exc.reason or exc.strerror
        return Handshake(False, failure=f"handshake refused: {reason}", refused=True)
    except (ConnectionResetError, BrokenPipeError):
        return Handshake(False, failure=hung_up.format("reset"), server_closed=True)
    except TimeoutError:
        return Handshake(
            False,
            failure=f"handshake got no answer within {endpoint.timeout:g} s",
            server_closed=True,
        )
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return Handshake(False, failure=f"socket error: {reason}", server_closed=True)
    negotiated = tls.cipher()
    result = Handshake(
        True,
        version=tls.version(),
        cipher=negotiated[0] if negotiated else None,
        address=address,
    )
    with contextlib.suppress(OSError, ValueError):
        tls.unwrap()  # close_notify: the server then logs nothing for this probe
    return result
