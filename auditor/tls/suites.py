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


def system_suite_names() -> frozenset[str]:
    """OpenSSL names of every suite the system OpenSSL can offer (what `OFFER_ALL` selects)."""
    return frozenset(p.openssl_name for p in _table().values())


# Suites only the legacy client (nassl's OpenSSL 1.0.2) has, by what makes them legacy. Name
# rules are safe here: the set is closed (OpenSSL 1.0.2's table, `legacy_only_suites()`).
LEGACY_FAMILIES = ("EXPORT", "3DES", "DES", "RC4", "RC2", "IDEA", "SEED", "NULL", "static DH/ECDH")


def legacy_families(openssl_name: str) -> tuple[str, ...]:
    """Why an OpenSSL 1.0.2 suite is legacy (several reasons for e.g. EXP-RC4-MD5)."""
    name = openssl_name
    found: set[str] = set()
    if name.startswith("EXP-"):
        found.add("EXPORT")
    if "DES-CBC3" in name:
        found.add("3DES")
    elif "DES-CBC" in name:
        found.add("DES")
    for family in ("RC4", "RC2", "IDEA", "SEED", "NULL"):
        if family in name.split("-"):
            found.add(family)
    if name.removeprefix("EXP-").startswith(("DH-", "ECDH-")):
        found.add("static DH/ECDH")
    return tuple(f for f in LEGACY_FAMILIES if f in found)


def legacy_properties(openssl_name: str) -> SuiteProperties | None:
    """Properties of a suite only the legacy client knows, from its OpenSSL 1.0.2 name."""
    from sslyze.plugins.openssl_cipher_suites.cipher_suites import (
        _RFC_NAME_TO_KEY_SIZE_MAPPING,  # sslyze's bit sizes per IANA name
    )

    iana = _openssl_to_iana().get(openssl_name)
    if iana is None:
        return None
    base = openssl_name.removeprefix("EXP-")
    anonymous = base.startswith(("ADH-", "AECDH-"))
    if base.startswith(("ECDHE-", "AECDH-")):
        kex = "ecdhe"
    elif base.startswith(("EDH-", "DHE-", "ADH-")):
        kex = "dhe"
    elif base.startswith("ECDH-"):
        kex = "ecdh"  # static: the certificate's key, no forward secrecy
    elif base.startswith("DH-"):
        kex = "dh"
    else:
        kex = "rsa"
    symmetric = next(
        (
            f
            for f in ("3DES", "DES", "RC4", "RC2", "IDEA", "SEED", "NULL")
            if f in legacy_families(openssl_name)
        ),
        None,
    )
    return SuiteProperties(
        openssl_name=openssl_name,
        iana_name=iana,
        code=-1,  # not in the system OpenSSL's table; sslyze's has no codes
        key_exchange=kex,
        forward_secrecy=kex in ("ecdhe", "dhe"),
        aead="GCM" in base.split("-"),
        anonymous=anonymous,
        symmetric=symmetric.lower() if symmetric else None,
        bits=int(_RFC_NAME_TO_KEY_SIZE_MAPPING.get(iana, 0)),
        min_version="TLSv1.2" if "GCM" in base or base.endswith(("SHA256", "SHA384")) else "SSLv3",
    )


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
