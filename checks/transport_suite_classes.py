"""How bad an accepted cipher suite is, by class, worst first; what `ssl_ciphers` asks for that
the live server does not offer; and who controls TLS 1.3 suites on a given PostgreSQL version.

Pure functions over the probe's facts, used by `transport.cipher_suites`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from auditor.tls.facts import AcceptedSuite, TlsFacts

# Worst first. A suite belongs to its worst class; `outside the profile` is what is left (e.g.
# CAMELLIA/ARIA-GCM or a TLS 1.3 suite a custom policy leaves out).
NO_ENCRYPTION = "no encryption (NULL cipher)"
ANONYMOUS = "anonymous (no server authentication)"
LEGACY_CIPHER = "broken or legacy cipher (EXPORT, RC4, DES, 3DES, RC2, IDEA, SEED)"
NO_FORWARD_SECRECY = "no forward secrecy (static RSA/DH/ECDH key exchange)"
CBC_SHA1 = "CBC with a SHA-1 MAC"
CBC_OTHER = "CBC (not AEAD)"
OUTSIDE_PROFILE = "merely outside the profile"
CLASS_ORDER = (
    NO_ENCRYPTION,
    ANONYMOUS,
    LEGACY_CIPHER,
    NO_FORWARD_SECRECY,
    CBC_SHA1,
    CBC_OTHER,
    OUTSIDE_PROFILE,
)

_LEGACY = frozenset({"EXPORT", "RC4", "DES", "3DES", "RC2", "IDEA", "SEED"})


def suite_class(suite: AcceptedSuite) -> str:
    if "_WITH_NULL_" in suite.iana_name or "NULL" in suite.legacy_families:
        return NO_ENCRYPTION
    if suite.anonymous:
        return ANONYMOUS
    if _LEGACY & set(suite.legacy_families):
        return LEGACY_CIPHER
    if not suite.forward_secrecy:
        return NO_FORWARD_SECRECY
    if not suite.aead:
        return CBC_SHA1 if suite.iana_name.endswith("_SHA") else CBC_OTHER
    return OUTSIDE_PROFILE


def class_rank(name: str) -> int:
    return CLASS_ORDER.index(name)


# ssl_ciphers words that ask for legacy suites, and the suite families that answer them.
# (OpenSSL 3 puts 3DES, IDEA and SEED in MEDIUM; RC4 and single DES were LOW.)
_ASKS = {
    "MEDIUM": frozenset({"3DES", "IDEA", "SEED", "RC4", "RC2"}),
    "LOW": frozenset({"DES", "RC4", "RC2"}),
    "EXPORT": frozenset({"EXPORT"}),
    "EXP": frozenset({"EXPORT"}),
    "3DES": frozenset({"3DES"}),
    "DES": frozenset({"DES"}),
    "RC4": frozenset({"RC4"}),
    "RC2": frozenset({"RC2"}),
    "IDEA": frozenset({"IDEA"}),
    "SEED": frozenset({"SEED"}),
    "ENULL": frozenset({"NULL"}),
    "NULL": frozenset({"NULL"}),
}


@dataclass(frozen=True)
class LegacyAsk:
    word: str  # as written in ssl_ciphers, e.g. "MEDIUM", "+3DES"
    offered: tuple[str, ...]  # accepted suites that answer it (IANA names)


def legacy_asks(ssl_ciphers: str, tls: TlsFacts) -> list[LegacyAsk]:
    """The legacy suite families `ssl_ciphers` asks for (not excluded with ! or -), and which
    accepted suites answer each (none: asked for but not actually offered)."""
    accepted = [s for p in tls.protocols if p.accepted for s in p.suites]
    found: list[LegacyAsk] = []
    for word in re.split(r"[:, ]+", ssl_ciphers.strip()):
        if not word or word[0] in "!-":
            continue
        families = _ASKS.get(word.lstrip("+").upper())
        if families is None:
            continue
        offered = sorted(
            {
                s.iana_name
                for s in accepted
                if families & set(s.legacy_families)
                or ("NULL" in families and "_WITH_NULL_" in s.iana_name)
            }
        )
        found.append(LegacyAsk(word, tuple(offered)))
    return found


TLS13_FIRST_SETTING = 180000  # PostgreSQL 18 added ssl_tls13_ciphers


def tls13_control(server_version_num: int | None, server_version: str | None) -> str:
    """Who decides the TLS 1.3 suites a server accepts, and how to change them."""
    if server_version_num is not None and server_version_num >= TLS13_FIRST_SETTING:
        return (
            f"on PostgreSQL {server_version} the TLS 1.3 suites are set by ssl_tls13_ciphers "
            "(ssl_ciphers only affects TLS 1.2 and older): list the allowed ones there and reload"
        )
    which = f"PostgreSQL {server_version}" if server_version else "PostgreSQL before 18"
    return (
        f"on {which} no setting controls TLS 1.3 suites (ssl_ciphers only affects TLS 1.2 and "
        "older): set 'Ciphersuites = ...' in the [system_default_sect] of the OpenSSL "
        "configuration the postmaster reads (openssl.cnf, or a file named by OPENSSL_CONF in "
        "its environment) and restart, or upgrade to PostgreSQL 18 and set ssl_tls13_ciphers"
    )
