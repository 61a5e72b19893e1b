"""Test and demo certificates: a CA and a server certificate signed by it (and CRLs).

The SAN is non-critical on purpose: sslyze's validation rejects a critical SAN (trustme's
default). RSA by default so that RSA key-exchange suites can be produced for weak fixtures.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class CertSpec:
    hostnames: tuple[str, ...] = ("localhost", "127.0.0.1")
    key_type: str = "rsa"  # "rsa" or "ec"
    key_bits: int = 2048  # RSA modulus size, or EC curve size (256/384)
    signature_hash: str = "sha256"  # "sha256" or "sha384"
    not_before_days: int = -1  # relative to now
    not_after_days: int = 365
    self_signed: bool = False  # the server certificate signs itself (no CA)


DEFAULT_CERT = CertSpec()


@dataclass(frozen=True)
class IssuedCerts:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    spec: CertSpec = field(default_factory=CertSpec)
    ca_key: Path | None = None  # kept so a test can sign a CRL with the same CA


def write_crl(issued: IssuedCerts, path: Path, *, revoke_server: bool) -> Path:
    """A CRL from the test CA (valid for a day), listing the server certificate or nothing."""
    assert issued.ca_key is not None
    ca_key = serialization.load_pem_private_key(issued.ca_key.read_bytes(), password=None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    ca = x509.load_pem_x509_certificate(issued.ca_cert.read_bytes())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(now - dt.timedelta(hours=1))
        .next_update(now + dt.timedelta(days=1))
    )
    if revoke_server:
        server = x509.load_pem_x509_certificate(issued.server_cert.read_bytes())
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(server.serial_number)
            .revocation_date(now - dt.timedelta(minutes=5))
            .build()
        )
    crl = builder.sign(ca_key, hashes.SHA256())
    path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    return path


def _key(key_type: str, bits: int) -> PrivateKey:
    if key_type == "ec":
        curve: ec.EllipticCurve = {256: ec.SECP256R1(), 384: ec.SECP384R1()}[bits]
        return ec.generate_private_key(curve)
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _hash(name: str) -> hashes.SHA256 | hashes.SHA384:
    if name == "sha256":
        return hashes.SHA256()
    if name == "sha384":
        return hashes.SHA384()
    # cryptography >= 45 refuses to sign with SHA-1 ("not supported for signatures"), so a
    # SHA-1 certificate has to come from the openssl command line instead.
    raise ValueError(f"signature hash {name!r} is not supported by this generator")


def _san(hostnames: tuple[str, ...]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def issue(directory: Path, spec: CertSpec | None = None) -> IssuedCerts:
    """Write ca.crt, server.crt and server.key into `directory`."""
    spec = spec or CertSpec()
    now = dt.datetime.now(dt.UTC)
    ca_key = _key("rsa", 2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Auditor Test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=2))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = _key(spec.key_type, spec.key_bits)
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, spec.hostnames[0])])
    issuer_name, signing_key = (server_name, server_key) if spec.self_signed else (ca_name, ca_key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(server_name)
        .issuer_name(issuer_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(days=spec.not_before_days))
        .not_valid_after(now + dt.timedelta(days=spec.not_after_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_san(spec.hostnames), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    )
    if not spec.self_signed:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
    server_cert = builder.sign(signing_key, _hash(spec.signature_hash))

    directory.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = (
        directory / "ca.crt",
        directory / "server.crt",
        directory / "server.key",
    )
    # Even for a self-signed server the CA file holds the real CA: clients that trust it must
    # then fail to validate the server, which is what the weak fixture is about.
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    ca_key_path = directory / "ca.key"
    ca_key_path.write_bytes(
        ca_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    ca_key_path.chmod(0o600)
    cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return IssuedCerts(
        ca_cert=ca_path, server_cert=cert_path, server_key=key_path, spec=spec, ca_key=ca_key_path
    )
