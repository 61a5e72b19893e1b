"""Chain verification the way libpq's `sslmode=verify-full` does it: by OpenSSL, in a handshake.

libpq does not validate certificates itself: it asks OpenSSL to (`SSL_VERIFY_PEER` with the
`sslrootcert` store, OpenSSL's default verification flags, the context's default security
level, TLS 1.2 or newer), then compares the host name to the certificate (see `hostname.py`).
So the probe makes one such handshake with the system OpenSSL instead of re-implementing X.509
path validation: whatever OpenSSL accepts (a self-signed `CA:TRUE` certificate given as its own
root, as the PostgreSQL docs recipe makes) passes, and whatever it refuses (an expired leaf,
an unknown issuer, an RSA-1024 key at security level 2) fails with OpenSSL's own reason,
translated into words here.

When that handshake cannot complete for reasons that are not the certificate (the server only
speaks TLS 1.0, or only suites below the security level), libpq could not connect at all; the
chain is then verified in a second handshake at security level 0 with TLS 1.0 allowed, and the
key and digest rules of the default security level are applied to the chain here, in
OpenSSL's terms (`relaxed` says so in evidence).
"""

from __future__ import annotations

import ssl
import warnings
from dataclasses import dataclass
from pathlib import Path

from auditor.tls.facts import CertificateFacts
from auditor.tls.starttls import Endpoint, handshake_with

# OpenSSL security level 2 (OpenSSL 3.2+'s default, Python's and the libpq in psycopg's
# wheels): 112-bit security. RSA/DSA keys below 2048 bits, EC below 224, and SHA-1/MD5
# signatures (other than a trust anchor's own) are refused.
DEFAULT_LEVEL_MIN_RSA_BITS = 2048
DEFAULT_LEVEL_MIN_EC_BITS = 224
DEFAULT_LEVEL_WEAK_DIGESTS = frozenset({"md2", "md4", "md5", "sha1"})

# X509_V_ERR_* codes whose OpenSSL wording is turned into an explanation below.
_UNABLE_TO_GET_ISSUER = 2
_UNABLE_TO_GET_CRL = 3
_CRL_HAS_EXPIRED = 12
_CERT_SIGNATURE_FAILURE = 7
_NOT_YET_VALID = 9
_EXPIRED = 10
_DEPTH_ZERO_SELF_SIGNED = 18
_SELF_SIGNED_IN_CHAIN = 19
_UNABLE_TO_GET_ISSUER_LOCALLY = 20
_UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21
_REVOKED = 23
_INVALID_CA = 24
_INVALID_PURPOSE = 26
_EE_KEY_TOO_SMALL = 66
_CA_KEY_TOO_SMALL = 67
_CA_MD_TOO_WEAK = 68


@dataclass(frozen=True)
class ChainVerdict:
    valid: bool
    security_level: int
    reason: str | None = None  # in words, OpenSSL's own wording in brackets
    verify_code: int | None = None
    verify_message: str | None = None
    # Verified outside libpq's defaults (TLS < 1.2 or suites below the level were needed).
    relaxed: bool = False
    relaxed_because: str | None = None
    # The verification handshake itself failed (not the certificate): nothing verified.
    handshake_failure: str | None = None
    handshakes: int = 1  # verification handshakes made (2 when relaxed)


def _context(
    root_file: Path | None, *, relaxed: bool, crl_file: Path | None = None
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # libpq compares the host name itself, by its own rules
    ctx.verify_mode = ssl.CERT_REQUIRED
    if relaxed:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    else:
        # OpenSSL's default suite list, as libpq leaves it; the security level is untouched.
        ctx.set_ciphers("DEFAULT")
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # libpq's ssl_min_protocol_version
    if root_file is not None:
        ctx.load_verify_locations(cafile=str(root_file))
    else:
        ctx.set_default_verify_paths()  # libpq's sslrootcert=system
    if crl_file is not None:
        # libpq with sslcrl: X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL.
        ctx.load_verify_locations(cafile=str(crl_file))
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_CHAIN
    return ctx


def default_security_level() -> int:
    return _context(None, relaxed=False).security_level


def _key_label(cert: CertificateFacts) -> str:
    return f"{cert.key_type.upper()} {cert.key_bits}-bit key"


def level_problems(chain: tuple[CertificateFacts, ...], level: int) -> list[tuple[int, str]]:
    """What OpenSSL's default security level would refuse in `chain`: (code, words)."""
    found: list[tuple[int, str]] = []
    for position, cert in enumerate(chain):
        weak_key = (
            cert.key_type in ("rsa", "dsa") and cert.key_bits < DEFAULT_LEVEL_MIN_RSA_BITS
        ) or (cert.key_type == "ec" and cert.key_bits < DEFAULT_LEVEL_MIN_EC_BITS)
        if weak_key:
            code = _EE_KEY_TOO_SMALL if position == 0 else _CA_KEY_TOO_SMALL
            found.append((code, _key_words(code, cert, level)))
        anchor = position == len(chain) - 1 and cert.self_signed
        if not anchor and (cert.signature_hash or "").lower() in DEFAULT_LEVEL_WEAK_DIGESTS:
            found.append((_CA_MD_TOO_WEAK, _digest_words(cert, level)))
    return found


def _key_words(code: int, cert: CertificateFacts, level: int) -> str:
    whose = "the server's" if code == _EE_KEY_TOO_SMALL else f"the CA {cert.subject}'s"
    return (
        f"{whose} {_key_label(cert)} is too small at OpenSSL security level {level} "
        f"(needs RSA {DEFAULT_LEVEL_MIN_RSA_BITS}+ or EC {DEFAULT_LEVEL_MIN_EC_BITS}+ bits)"
    )


def _digest_words(cert: CertificateFacts, level: int) -> str:
    digest = (cert.signature_hash or "unknown").upper()
    return (
        f"{cert.subject} is signed with {digest}, a digest too weak at OpenSSL security "
        f"level {level}"
    )


def explain(
    code: int | None, message: str | None, chain: tuple[CertificateFacts, ...], level: int
) -> str:
    """OpenSSL's verification error in words naming the certificate and its issuer."""
    if not chain:
        return message or "certificate verify failed"
    leaf, last = chain[0], chain[-1]
    words: str | None = None
    if code in (_UNABLE_TO_GET_ISSUER, _UNABLE_TO_GET_ISSUER_LOCALLY):
        words = f"its issuer {last.issuer} is not in the trust store"
    elif code == _UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        words = f"its issuer {leaf.issuer} is not in the trust store"
    elif code == _DEPTH_ZERO_SELF_SIGNED:
        words = "self-signed and not in the trust store"
    elif code == _SELF_SIGNED_IN_CHAIN:
        words = f"the chain ends in the self-signed root {last.subject}, not in the trust store"
    elif code == _EXPIRED:
        gone = next((c for c in chain if c.days_left < 0), leaf)
        who = "" if gone is leaf else f"{gone.subject} in its chain "
        words = f"{who}expired on {gone.not_after}"
    elif code == _NOT_YET_VALID:
        words = f"not valid before {leaf.not_before}"
    elif code == _EE_KEY_TOO_SMALL:
        words = _key_words(code, leaf, level)
    elif code == _CA_KEY_TOO_SMALL:
        weak = next((c for c in chain[1:] if c.key_type in ("rsa", "dsa", "ec")), last)
        words = _key_words(code, weak, level)
    elif code == _CA_MD_TOO_WEAK:
        weak = next(
            (c for c in chain if (c.signature_hash or "").lower() in DEFAULT_LEVEL_WEAK_DIGESTS),
            leaf,
        )
        words = _digest_words(weak, level)
    elif code == _CERT_SIGNATURE_FAILURE:
        words = f"its signature by {leaf.issuer} does not verify"
    elif code == _REVOKED:
        words = "revoked: a certificate of the chain is listed in the sslcrl CRL"
    elif code == _UNABLE_TO_GET_CRL:
        words = "sslcrl holds no CRL for a certificate of the chain (libpq then refuses it)"
    elif code == _CRL_HAS_EXPIRED:
        words = "the CRL in sslcrl has expired"
    elif code == _INVALID_CA:
        words = "a certificate that signs another in the chain is not a CA (basicConstraints)"
    elif code == _INVALID_PURPOSE:
        words = "not valid for TLS server authentication (extendedKeyUsage)"
    if words is None:
        return f"OpenSSL: {message or 'certificate verify failed'}"
    return f"{words} (OpenSSL: {message})" if message else words


def verify_chain(
    endpoint: Endpoint,
    root_file: Path | None,
    chain: tuple[CertificateFacts, ...],
    crl_file: Path | None = None,
) -> ChainVerdict:
    """Verify the server's chain as libpq would (one handshake; two when libpq's defaults
    cannot connect at all). Raises OSError/ssl.SSLError when the root store is unusable."""
    strict = _context(root_file, relaxed=False, crl_file=crl_file)
    level = strict.security_level
    outcome = handshake_with(endpoint, strict)
    if outcome.accepted:
        return ChainVerdict(True, level)
    if outcome.verify_code is not None:
        reason = explain(outcome.verify_code, outcome.verify_message, chain, level)
        return ChainVerdict(
            False,
            level,
            reason=reason,
            verify_code=outcome.verify_code,
            verify_message=outcome.verify_message,
        )
    because = outcome.failure or "the handshake failed"
    if not outcome.refused:
        # A hang-up or timeout says nothing about what libpq would decide: not judged.
        return ChainVerdict(False, level, handshake_failure=because)
    relaxed = handshake_with(endpoint, _context(root_file, relaxed=True, crl_file=crl_file))
    if relaxed.verify_code is not None:
        return ChainVerdict(
            False,
            level,
            reason=explain(relaxed.verify_code, relaxed.verify_message, chain, level),
            verify_code=relaxed.verify_code,
            verify_message=relaxed.verify_message,
            relaxed=True,
            relaxed_because=because,
            handshakes=2,
        )
    if not relaxed.accepted:
        return ChainVerdict(
            False,
            level,
            relaxed=True,
            relaxed_because=because,
            handshake_failure=f"{because}; at security level 0: {relaxed.failure}",
            handshakes=2,
        )
    problems = level_problems(chain, level)
    if problems:
        code, words = problems[0]
        return ChainVerdict(
            False,
            level,
            reason=words,
            verify_code=code,
            relaxed=True,
            relaxed_because=because,
            handshakes=2,
        )
    return ChainVerdict(True, level, relaxed=True, relaxed_because=because, handshakes=2)
