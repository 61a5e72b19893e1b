"""What the live TLS probe observed about one PostgreSQL server: the `tls` fact section.

Plain data only (no verdicts): the answer to the SSLRequest, each protocol version tried and
whether it was accepted, the cipher suites accepted per version, the certificate chain's
properties and how it validated, and how many handshakes the probe cost.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from auditor.facts import FactSection


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AcceptedSuite(_Row):
    iana_name: str
    openssl_name: str
    code: str  # "0xc030"
    key_exchange: str  # ecdhe, dhe, rsa, any (TLS 1.3)
    forward_secrecy: bool
    aead: bool
    anonymous: bool = False  # no server authentication (ADH/AECDH): open to interception
    bits: int
    # Why a suite only the legacy client could offer is legacy: 3DES, RC4, EXPORT, ...
    legacy_families: tuple[str, ...] = ()


class LegacySuiteProbe(_Row):
    """One bulk handshake of one version with sslyze's legacy client (nassl's OpenSSL 1.0.2)
    offering only the suites the system OpenSSL cannot offer, enumerated only if accepted."""

    offered: int  # suites in the legacy client's offer (it drops those its version cannot use)
    families: tuple[str, ...]  # 3DES, RC4, DES, IDEA, SEED, RC2, EXPORT, NULL, static DH/ECDH
    # The server refused the whole offer with an alert: it accepts none of those suites.
    refused: bool
    failure: str | None = None  # the bulk handshake's one-line outcome when not accepted
    accepted: tuple[str, ...] = ()  # IANA names (also in the version's `suites`)
    complete: bool = True  # False: the answer proves nothing (hang-up, timeout) or was cut short


class ProtocolProbe(_Row):
    version: str  # SSLv3, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 (PostgreSQL's spelling)
    accepted: bool
    # Why the handshake failed (alert or socket error), when it did: one line.
    failure: str | None = None
    suites: tuple[AcceptedSuite, ...] = ()
    # False when enumeration stopped early (budget, network error): `suites` is then partial.
    suites_complete: bool = True
    # True when the list was confirmed in bulk from TLS 1.2's list rather than one by one.
    suites_inferred: bool = False
    # The legacy-suite test of this version (None: not run - refused version, TLS 1.3, SSLv3
    # which is probed with the legacy client's whole list, or a probe without sslyze).
    legacy_suites: LegacySuiteProbe | None = None


class CertificateFacts(_Row):
    subject: str
    issuer: str
    serial_number: str
    sha256_fingerprint: str
    not_before: str  # ISO 8601 UTC
    not_after: str
    days_left: int  # negative once expired
    key_type: str  # rsa, ec, ed25519, dsa...
    key_bits: int
    signature_hash: str | None  # sha256, sha1, md5...
    self_signed: bool
    san_dns: tuple[str, ...] = ()
    san_ip: tuple[str, ...] = ()
    common_name: str | None = None


class TrustFacts(_Row):
    """Chain validation the way a libpq client with `sslmode=verify-full` would need it."""

    store: str  # "sslrootcert <path>" or "system store <path>"
    chain_valid: bool  # the received chain builds to the store (name not considered)
    chain_error: str | None = None  # why not, in words naming the certificate and issuer
    # Who verified: OpenSSL in a handshake (its version and security level), as libpq does.
    verified_by: str | None = None
    security_level: int | None = None
    openssl_verify_code: int | None = None  # X509_V_ERR_* when OpenSSL refused the chain
    openssl_reason: str | None = None  # OpenSSL's own one-line wording
    # Set when libpq's defaults (TLS 1.2+, default suites) could not connect at all, so the
    # chain was verified at security level 0 and the level's key/digest rules applied here.
    relaxed_because: str | None = None
    verification_handshakes: int = 0  # counted in TlsFacts.handshakes too
    # The verification handshake itself failed (hang-up, timeout): the chain is not judged.
    not_verified: str | None = None
    host: str  # the host the client connects to (from the DSN)
    hostname_matches: bool
    hostname_detail: str  # which SAN/CN matched, or what the certificate names instead
    # The store itself could not be used (missing or unreadable sslrootcert, no system store):
    # a problem of the scanner's setup, so the chain is not judged rather than failed.
    store_problem: str | None = None


class TlsFacts(FactSection):
    section = "tls"

    host: str
    port: int
    # libpq's connection attempts for the DSN, in order, with what the probe found at each
    # one it passed over ("db1:5432 (hostaddr 10.0.0.1): cannot connect ..."); empty for one.
    attempts: tuple[str, ...] = ()
    # 'S' (TLS offered), 'N' (TLS refused: ssl = off) or None when the server said neither.
    ssl_request_answer: str | None
    protocols: tuple[ProtocolProbe, ...] = ()
    certificate_chain: tuple[CertificateFacts, ...] = ()  # leaf first, as the server sent it
    trust: TrustFacts | None = None
    # One line when some part of the probe could not be done (certificate scan failed...).
    problems: tuple[str, ...] = ()
    handshakes: int = 0  # TLS handshakes the probe attempted (its own and through sslyze)
    # What was done through sslyze's connection class (certificate_chain, tls_1_3_suites,
    # sslv3, legacy_suites); older bundles list sslyze scan commands here.
    sslyze_commands: tuple[str, ...] = ()
    # Protocol versions / suite families the probe could not test at all, one line each.
    not_tested: tuple[str, ...] = ()
    duration_seconds: float = 0.0

    def accepted_versions(self) -> list[str]:
        return [p.version for p in self.protocols if p.accepted]

    def protocol(self, version: str) -> ProtocolProbe | None:
        return next((p for p in self.protocols if p.version == version), None)

    @property
    def leaf(self) -> CertificateFacts | None:
        return self.certificate_chain[0] if self.certificate_chain else None

    @property
    def tls_works(self) -> bool:
        return any(p.accepted for p in self.protocols)

    def no_tls_reason(self) -> str:
        """Why nothing TLS can be judged (for checks that need a working handshake)."""
        if self.ssl_request_answer == "N":
            return "the server refused TLS: it answered 'N' to the SSLRequest (ssl = off)"
        failures = sorted({p.failure for p in self.protocols if p.failure})
        detail = "; ".join(failures) if failures else "no handshake completed"
        return f"no TLS handshake with the server succeeded: {detail}"
