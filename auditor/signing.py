"""Signing what a scan observed, so a report folder can be proven unaltered against a key the
organisation holds (not just against digests anyone can recompute).

Format: a DSSE envelope (in-toto's Dead Simple Signing Envelope) carrying an in-toto
Statement. DSSE signs PAE(payloadType, payload) — the exact bytes, length-prefixed — so no
JSON canonicalisation is needed to check a signature, and the same envelope shape is what
supply-chain tools (in-toto, Sigstore, SLSA provenance) already read. Keys are Ed25519
(`cryptography`); a key id is the SHA-256 fingerprint of the raw public key, so a verifier can
say which key signed and keys can be rotated by trusting old and new public keys together.

The private key is read here and handed only to `cryptography`; it never enters a document,
an exception message or a log line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from auditor.signing_env import SIGN_KEY_ENV as SIGN_KEY_ENV  # its home before; still exported

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"


class SigningError(Exception):
    """A key cannot be read or written; one line naming the file, never the key."""


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def short_key_id(keyid: str) -> str:
    return keyid[:23]  # "SHA256:" and 16 hex digits: what a person compares by eye


@dataclass(frozen=True)
class Signer:
    private: Ed25519PrivateKey
    keyid: str
    warning: str | None = None  # e.g. the key file is readable by other users

    def __repr__(self) -> str:  # never show key material, even in a debugger or a traceback
        return f"Signer(keyid={self.keyid!r})"


@dataclass(frozen=True)
class TrustedKey:
    public: Ed25519PublicKey
    keyid: str
    source: str


def generate_key_pair(private_path: Path) -> tuple[Path, str]:
    """Write a new Ed25519 private key (PEM, mode 0600) at `private_path` and its public key at
    `private_path`.pub; refuse to overwrite either. Returns (public path, key id)."""
    public_path = private_path.with_name(private_path.name + ".pub")
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise SigningError(f"{path}: already exists (refusing to overwrite a key)")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        # O_EXCL: created here with mode 0600 from the start, never readable by others.
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        fd = os.open(public_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(public_pem)
    except OSError as exc:
        where = exc.filename or private_path
        raise SigningError(f"{where}: cannot write key: {exc.strerror}") from None
    return public_path, key_id(private.public_key())


def load_signer(path: Path) -> Signer:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningError(f"{path}: cannot read signing key: {exc.strerror}") from None
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        # The library's message could quote the input; ours names only the file.
        raise SigningError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise SigningError(f"{path}: not an Ed25519 private key (use `auditor keygen`)")
    warning = None
    try:
        if os.stat(path).st_mode & 0o077:
            warning = f"{path}: signing key is readable by other users (chmod 600 it)"
    except OSError:
        pass
    return Signer(private, key_id(private.public_key()), warning)


def load_trusted_key(path: Path) -> TrustedKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningError(f"{path}: cannot read public key: {exc.strerror}") from None
    try:
        public = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise SigningError(f"{path}: not a PEM public key") from None
    if not isinstance(public, Ed25519PublicKey):
        raise SigningError(f"{path}: not an Ed25519 public key")
    return TrustedKey(public, key_id(public), str(path))


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: what is actually signed."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def statement(subjects: Mapping[str, str], predicate_type: str, predicate: Any) -> dict[str, Any]:
    """An in-toto Statement: subject name -> SHA-256 hex."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": name, "digest": {"sha256": digest}} for name, digest in subjects.items()
        ],
        "predicateType": predicate_type,
        "predicate": predicate,
    }


def sign_statement(signer: Signer, body: dict[str, Any]) -> dict[str, Any]:
    payload = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    sig = signer.private.sign(pae(PAYLOAD_TYPE, payload))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": signer.keyid, "sig": base64.b64encode(sig).decode()}],
    }


class EnvelopeError(Exception):
    """An envelope is malformed or its signature does not hold; one line."""


@dataclass(frozen=True)
class OpenedEnvelope:
    statement: dict[str, Any]
    keyids: tuple[str, ...]  # as claimed in the envelope (not proven without a key)
    verified_by: TrustedKey | None  # the trusted key whose signature holds

    def subjects(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for item in self.statement.get("subject", []):
            if not isinstance(item, dict) or not isinstance(item.get("digest"), dict):
                raise EnvelopeError("statement subject is malformed")
            name, digest = item.get("name"), item["digest"].get("sha256")
            if not isinstance(name, str) or not isinstance(digest, str):
                raise EnvelopeError("statement subject is malformed")
            found[name] = digest
        return found


def open_envelope(envelope: Any, trusted: Iterable[TrustedKey]) -> OpenedEnvelope:
    """Decode a DSSE envelope and, with trusted keys, check that one of them signed it.
    Raises EnvelopeError for a malformed envelope or (given keys) no valid signature."""
    if not isinstance(envelope, dict):
        raise EnvelopeError("signature envelope is not an object")
    payload_type, payload_b64 = envelope.get("payloadType"), envelope.get("payload")
    signatures = envelope.get("signatures")
    if payload_type != PAYLOAD_TYPE or not isinstance(payload_b64, str):
        raise EnvelopeError("signature envelope has no in-toto payload")
    if not isinstance(signatures, list) or not signatures:
        raise EnvelopeError("signature envelope has no signatures")
    try:
        payload = base64.b64decode(payload_b64, validate=True)
        body = json.loads(payload)
    except (binascii.Error, ValueError):
        raise EnvelopeError("signature envelope payload is not base64 JSON") from None
    if not isinstance(body, dict) or body.get("_type") != STATEMENT_TYPE:
        raise EnvelopeError("signature envelope payload is not an in-toto Statement")
    claimed: list[str] = []
    pairs: list[tuple[str, bytes]] = []
    for item in signatures:
        if not isinstance(item, dict):
            raise EnvelopeError("signature entry is not an object")
        keyid, sig = item.get("keyid", ""), item.get("sig")
        if not isinstance(keyid, str) or not isinstance(sig, str):
            raise EnvelopeError("signature entry is malformed")
        try:
            pairs.append((keyid, base64.b64decode(sig, validate=True)))
        except binascii.Error:
            raise EnvelopeError("signature is not base64") from None
        claimed.append(keyid)
    keys = list(trusted)
    verified: TrustedKey | None = None
    if keys:
        message = pae(PAYLOAD_TYPE, payload)
        for key in keys:
            for _keyid, sig in pairs:
                try:
                    key.public.verify(sig, message)
                except InvalidSignature:
                    continue
                verified = key
                break
            if verified is not None:
                break
        if verified is None:
            named = ", ".join(short_key_id(k) for k in claimed) or "no key id"
            raise EnvelopeError(
                f"signature does not verify with the given public key(s) (envelope names {named})"
            )
    return OpenedEnvelope(body, tuple(claimed), verified)


ATTESTATION_KEY = "attestation"


def document_digest(document: Mapping[str, Any]) -> str:
    """SHA-256 of a JSON document without its attestation, as sorted compact JSON."""
    view = {k: v for k, v in document.items() if k != ATTESTATION_KEY}
    data = json.dumps(view, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(data).hexdigest()


def sign_document(
    document: Mapping[str, Any], name: str, signer: Signer, predicate_type: str, predicate: Any
) -> dict[str, Any]:
    """The document with an `attestation` envelope over its own digest (as `name`)."""
    body = statement({name: document_digest(document)}, predicate_type, predicate)
    return {**document, ATTESTATION_KEY: sign_statement(signer, body)}


def verify_document(
    document: Mapping[str, Any], name: str, predicate_type: str, trusted: Iterable[TrustedKey]
) -> TrustedKey:
    """The trusted key that signed this document as it is now; EnvelopeError otherwise."""
    keys = list(trusted)
    if not keys:
        raise EnvelopeError("no trusted public key to check the signature with")
    if ATTESTATION_KEY not in document:
        raise EnvelopeError("not signed (recorded without --sign-key?)")
    opened = open_envelope(document[ATTESTATION_KEY], keys)
    if opened.statement.get("predicateType") != predicate_type:
        raise EnvelopeError(f"signature is not a {predicate_type} statement")
    if opened.subjects().get(name) != document_digest(document):
        raise EnvelopeError("content differs from what was signed")
    assert opened.verified_by is not None  # open_envelope raises otherwise
    return opened.verified_by
