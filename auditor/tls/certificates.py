"""Certificate facts and chain validation, computed offline from the chain the server sent.

Trust is split in two questions so evidence can say which one failed: does OpenSSL accept the
chain against the client's root store (sslrootcert, or the system store for
`sslrootcert=system` / none) in a handshake like libpq's, and does the certificate name the DSN
host the way libpq's verify-full compares names.
"""

from __future__ import annotations

import datetime as dt
import re
import ssl
import warnings
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import ExtensionOID, NameOID

from auditor.tls.facts import CertificateFacts, TrustFacts
from auditor.tls.hostname import NameMatch, match_host
from auditor.tls.starttls import Endpoint
from auditor.tls.verify import ChainVerdict, verify_chain

# Debian's system bundle (and sslyze's stores) hold a root with a non-positive serial number;
# cryptography warns on every load, which is only noise in a scan's output.
warnings.filterwarnings(
    "ignore", "Parsed a serial number which wasn't positive", CryptographyDeprecationWarning
)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _key(cert: x509.Certificate) -> tuple[str, int]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ec", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "ed448", 456
    if isinstance(key, dsa.DSAPublicKey):
        return "dsa", key.key_size
    return type(key).__name__, 0


def _signature_hash(cert: x509.Certificate) -> str | None:
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:  # unknown/unsupported algorithm: report the OID's name instead
        return cert.signature_algorithm_oid._name  # the only readable label
    return algorithm.name if algorithm is not None else None


def _sans(cert: x509.Certificate) -> tuple[tuple[str, ...], tuple[str, ...]]:
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        return (), ()
    san = ext.value
    assert isinstance(san, x509.SubjectAlternativeName)
    dns = tuple(san.get_values_for_type(x509.DNSName))
    ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    return dns, ips


def _common_name(cert: x509.Certificate) -> str | None:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def describe(cert: x509.Certificate, now: dt.datetime) -> CertificateFacts:
    key_type, key_bits = _key(cert)
    dns, ips = _sans(cert)
    not_after = cert.not_valid_after_utc
    return CertificateFacts(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial_number=format(cert.serial_number, "x"),
        sha256_fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
        not_before=_iso(cert.not_valid_before_utc),
        not_after=_iso(not_after),
        # Floor division: 12 hours left is 0 days left, one second past expiry is -1.
        days_left=(not_after - now) // dt.timedelta(days=1),
        key_type=key_type,
        key_bits=key_bits,
        signature_hash=_signature_hash(cert),
        self_signed=cert.subject == cert.issuer,
        san_dns=dns,
        san_ip=ips,
        common_name=_common_name(cert),
    )


def system_store_path() -> Path | None:
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _openssl_words(exc: ssl.SSLError) -> str:
    """'no certificate or crl found' out of '[X509: NO_...] no certificate or crl found
    (_ssl.c:4154)'."""
    found = re.search(r"\]\s*(.*?)\s*\(_ssl\.c:\d+\)", str(exc))
    return found.group(1) if found else str(exc.reason or "unusable").replace("_", " ").lower()


def validate(
    endpoint: Endpoint,
    chain: tuple[CertificateFacts, ...],
    host: str,
    root_file: Path | None,
    crl_file: Path | None = None,
    *,
    host_named: bool = True,
) -> TrustFacts:
    """libpq's verify-full verdict: OpenSSL verifies the chain in a handshake (see `verify`),
    then the host name is compared the way libpq compares it (see `hostname`)."""
    leaf = chain[0]
    name = match_host(host, leaf.san_dns, leaf.san_ip, leaf.common_name)
    if not host_named:
        name = NameMatch(
            False,
            f"no host name was given, only hostaddr {host}: libpq's verify-full refuses to "
            "connect ('host name must be specified for a verified SSL connection')",
        )
    if root_file is None:
        found = system_store_path()
        label = f"system store {found}" if found else "system store (OpenSSL default paths)"
    else:
        label = f"sslrootcert {root_file}"
    if crl_file is not None:
        label += f" with sslcrl {crl_file}"
    store_problem: str | None = None
    verdict: ChainVerdict | None = None
    if root_file is not None:
        try:
            roots = x509.load_pem_x509_certificates(root_file.read_bytes())
        except OSError as exc:
            roots = []
            store_problem = f"cannot read root certificates from {root_file}: {exc.strerror}"
        except ValueError:
            roots = []
            store_problem = f"{root_file} holds no PEM certificate"
        if not roots and store_problem is None:
            store_problem = f"{root_file} holds no PEM certificate"
    if store_problem is None and crl_file is not None and not crl_file.is_file():
        store_problem = f"cannot read the CRL {crl_file} (sslcrl): no such file"
    if store_problem is None:
        try:
            verdict = verify_chain(endpoint, root_file, chain, crl_file)
        except ssl.SSLError as exc:  # OpenSSL's reason, without its "[X509: ...] (_ssl.c:...)"
            store_problem = f"OpenSSL cannot use {label}: {_openssl_words(exc)}"
        except OSError as exc:
            store_problem = f"cannot read {label}: {exc.strerror or type(exc).__name__}"
    chain_error: str | None = store_problem
    not_verified: str | None = None
    if verdict is not None and verdict.handshake_failure is not None:
        not_verified = f"the verification handshake failed: {verdict.handshake_failure}"
        chain_error = not_verified
    elif verdict is not None and not verdict.valid:
        chain_error = verdict.reason
    return TrustFacts(
        store=label,
        chain_valid=verdict is not None and verdict.valid,
        chain_error=chain_error,
        verified_by=(
            f"{ssl.OPENSSL_VERSION} in a handshake, security level {verdict.security_level}"
            if verdict is not None
            else None
        ),
        security_level=verdict.security_level if verdict is not None else None,
        openssl_verify_code=verdict.verify_code if verdict is not None else None,
        openssl_reason=verdict.verify_message if verdict is not None else None,
        relaxed_because=verdict.relaxed_because if verdict is not None else None,
        verification_handshakes=verdict.handshakes if verdict is not None else 0,
        store_problem=store_problem,
        not_verified=not_verified,
        host=host,
        hostname_matches=name.matches,
        hostname_detail=name.detail,
    )
