"""Cipher suite names and properties: OpenSSL and IANA names, key exchange, AEAD.

The probe handshakes with the local OpenSSL (through `ssl`), which names suites the OpenSSL
way (`ECDHE-RSA-AES256-GCM-SHA384`); policies, sslyze and testssl.sh use IANA names
(`TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384`). Properties come from OpenSSL's own cipher table so
that "forward secret" and "AEAD" are not guessed from name patterns.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from functools import cache

# Everything this OpenSSL can negotiate, weak or not: the probe must be able to offer it.
OFFER_ALL = "ALL:COMPLEMENTOFALL:@SECLEVEL=0"

_FORWARD_SECRET_KEX = frozenset({"kx-ecdhe", "kx-dhe", "kx-any", "kx-ecdhe-psk", "kx-dhe-psk"})


@dataclass(frozen=True)
class SuiteProperties:
    openssl_name: str
    iana_name: str
    code: int  # the two-byte IANA code (testssl.sh shows it as xc030)
    key_exchange: str  # OpenSSL's kea without the "kx-" prefix: ecdhe, dhe, rsa, any (TLS 1.3)
    forward_secrecy: bool
    aead: bool
    anonymous: bool  # no server authentication at all (ADH, AECDH)
    symmetric: str | None
    bits: int
    min_version: str  # oldest protocol version the suite can be used with (TLSv1, TLSv1.2...)


_MIN_VERSION = {"SSLv3": "TLSv1", "TLSv1.0": "TLSv1"}


@cache
def _openssl_to_iana() -> dict[str, str]:
    # Imported late: sslyze is heavy and checks (which only need names) load this module.
    from sslyze.plugins.openssl_cipher_suites.cipher_suites import (
        _TLS_OPENSSL_TO_RFC_NAMES_MAPPING,  # the most complete OpenSSL -> IANA table around
    )

    return dict(_TLS_OPENSSL_TO_RFC_NAMES_MAPPING)


@cache
def _table() -> dict[str, SuiteProperties]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers(OFFER_ALL)
    table: dict[str, SuiteProperties] = {}
    for entry in ctx.get_ciphers():
        name = str(entry["name"])
        kea = str(entry.get("kea") or "kx-unknown")
        props = SuiteProperties(
            openssl_name=name,
            iana_name=_openssl_to_iana().get(name, name),
            code=int(entry["id"]) & 0xFFFF,
            key_exchange=kea.removeprefix("kx-"),
            forward_secrecy=kea in _FORWARD_SECRET_KEX,
            aead=bool(entry.get("aead")),
            anonymous=entry.get("auth") == "auth-null",
            symmetric=entry.get("symmetric"),
            bits=int(entry.get("alg_bits") or 0),
            min_version=_MIN_VERSION.get(str(entry["protocol"]), str(entry["protocol"])),
        )
        table[name] = props
        table[props.iana_name] = props
    return table


def properties(name: str) -> SuiteProperties | None:
    """Properties of a suite given by OpenSSL or IANA name; None if this OpenSSL lacks it."""
    return _table().get(name)


def iana_name(name: str) -> str:
    found = properties(name)
    if found is not None:
        return found.iana_name
    return _openssl_to_iana().get(name, name)


def expand_cipher_string(value: str) -> frozenset[str] | None:
    """IANA names of the TLS 1.2-and-older suites an OpenSSL cipher string (ssl_ciphers)
    selects, as widely as this OpenSSL allows; None when the string selects nothing.

    Pure computation (no I/O): used to notice a live server accepting suites its own
    `SHOW ssl_ciphers` would not allow, which happens when an SSL reload was rejected.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        ctx.set_ciphers(f"{value}:@SECLEVEL=0")
    except ssl.SSLError:
        return None
    return frozenset(
        _openssl_to_iana().get(str(c["name"]), str(c["name"]))
        for c in ctx.get_ciphers()
        if c.get("protocol") != "TLSv1.3"
    )
