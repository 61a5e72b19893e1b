"""The gentle TLS probe of one PostgreSQL server.

A full sslyze enumeration tries every known suite one by one for every version and leaves
~850 refused-handshake lines in the server log. The same verdicts need far fewer handshakes:

1. one handshake per protocol version, offering every suite this OpenSSL has (the first one's
   SSLRequest answer also tells whether the server offers TLS at all);
2. TLS 1.2 is enumerated by elimination: offer everything except the suites already found,
   so each handshake reveals one more accepted suite and only the last one (nothing left in
   common) is refused - one log line;
3. TLS 1.0/1.1, when accepted, are checked in bulk against TLS 1.2's list (two handshakes,
   see `_old_version_suites`), falling back to elimination;
4. sslyze for the certificate chain and, when TLS 1.3 is accepted, its suites.

Completed handshakes end with close_notify, which PostgreSQL does not log.
"""

from __future__ import annotations

import datetime as dt
import ssl
import time
from dataclasses import dataclass, replace
from pathlib import Path

from auditor.tls import certificates, sslyze_scan
from auditor.tls.facts import AcceptedSuite, CertificateFacts, ProtocolProbe, TlsFacts
from auditor.tls.starttls import Endpoint, Handshake, Unreachable, handshake
from auditor.tls.suites import OFFER_ALL, properties

# Newest first: the first answer tells most, and a server that drops connections is found fast.
PROBE_ORDER = ("TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1")
MAX_SUITES_PER_VERSION = 80  # a bound on handshakes, far above what any server accepts


@dataclass(frozen=True)
class ProbeRequest:
    host: str
    port: int
    timeout: float = 10.0
    root_file: Path | None = None  # sslrootcert; None means the system store
    address: str | None = None  # connect here instead of resolving host (libpq hostaddr)
    use_sslyze: bool = True


def _suite(openssl_name: str, iana: str | None = None) -> AcceptedSuite:
    props = properties(openssl_name) or (properties(iana) if iana else None)
    if props is None:  # a suite this OpenSSL does not know (only via sslyze's own OpenSSL)
        return AcceptedSuite(
            iana_name=iana or openssl_name,
            openssl_name=openssl_name,
            code="unknown",
            key_exchange="unknown",
            forward_secrecy=False,
            aead=False,
            bits=0,
        )
    return AcceptedSuite(
        iana_name=props.iana_name,
        openssl_name=props.openssl_name,
        code=f"0x{props.code:04x}",
        key_exchange=props.key_exchange,
        forward_secrecy=props.forward_secrecy,
        aead=props.aead,
        anonymous=props.anonymous,
        bits=props.bits,
    )


def _without(found: list[str]) -> str:
    return ":".join(["ALL", "COMPLEMENTOFALL", *(f"!{name}" for name in found), "@SECLEVEL=0"])


class _Counter:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.count = 0

    def __call__(self, version: str, ciphers: str | None) -> Handshake | None:
        """A handshake, or None when the suite string selects nothing (nothing left to offer)."""
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).set_ciphers(ciphers or "DEFAULT")
        except ssl.SSLError:
            return None
        self.count += 1
        return handshake(self.endpoint, version, ciphers)


def _enumerate(shake: _Counter, version: str, first: str) -> tuple[list[str], bool]:
    """Accepted suites of one version (up to TLS 1.2) by elimination; (suites, complete)."""
    found = [first]
    while len(found) < MAX_SUITES_PER_VERSION:
        outcome = shake(version, _without(found))
        if outcome is None:
            return found, True
        if not outcome.accepted:
            # A refusal by alert means nothing is left in common; a dropped connection or a
            # timeout means we do not know.
            return found, outcome.refused
        if outcome.cipher is None or outcome.cipher in found:
            return found, False
        found.append(outcome.cipher)
    return found, False


def _old_version_suites(
    shake: _Counter, version: str, first: str, tls12: list[str]
) -> tuple[list[str], bool, bool]:
    """Suites of TLS 1.0/1.1 in two bulk handshakes when TLS 1.2 was enumerated already.

    OpenSSL servers (PostgreSQL is one) use one cipher list for every version, so the suites
    an old version accepts are TLS 1.2's that exist in that version. That is confirmed in bulk:
    offering exactly those must succeed, offering everything else must be refused. If either
    surprises, fall back to elimination. Returns (suites, complete, inferred).
    """
    candidates = [
        n
        for n in tls12
        if (props := properties(n)) is not None and props.min_version in ("TLSv1", "TLSv1.1")
    ]
    if not candidates or first not in candidates:
        names, complete = _enumerate(shake, version, first)
        return names, complete, False
    rest = shake(version, _without(candidates))
    if rest is None or rest.refused:
        same = shake(version, ":".join([*candidates, "@SECLEVEL=0"]))
        if same is not None and same.accepted and same.cipher in candidates:
            return candidates, True, True
    names, complete = _enumerate(shake, version, first)
    return names, complete, False


def probe(request: ProbeRequest) -> TlsFacts:
    """Probe one server; raises starttls.Unreachable when no TCP connection is possible or
    the server does not answer the SSLRequest at all."""
    started = time.monotonic()
    shake = _Counter(Endpoint(request.host, request.port, request.timeout, request.address))
    protocols: list[ProtocolProbe] = []
    tls12: list[str] = []
    answer: str | None = "S"
    for version in PROBE_ORDER:
        # @SECLEVEL=0 also lets TLS 1.3 reach servers with weak keys (TLS 1.3 suites are fixed).
        first = shake(version, OFFER_ALL)
        assert first is not None
        if first.address and shake.endpoint.address is None:
            # Pin the address that answered so every later probe reaches the same server.
            shake.endpoint = replace(shake.endpoint, address=first.address)
        if first.answer is None and not protocols:
            # Not even the SSLRequest got an answer: not a (working) PostgreSQL endpoint.
            raise Unreachable(f"{request.host}:{request.port}: {first.failure}")
        if first.answer == "N":
            answer = first.answer
            break  # the server refuses TLS: there is nothing more to probe
        if not first.accepted or first.cipher is None:
            protocols.append(ProtocolProbe(version=version, accepted=False, failure=first.failure))
            continue
        if version == "TLSv1.3":
            # Filled in from sslyze below; until then, the suite this handshake negotiated.
            protocols.append(
                ProtocolProbe(
                    version=version,
                    accepted=True,
                    suites=(_suite(first.cipher),),
                    suites_complete=False,
                )
            )
            continue
        inferred = False
        if version == "TLSv1.2":
            names, complete = _enumerate(shake, version, first.cipher)
            tls12 = names if complete else []
        elif tls12:
            names, complete, inferred = _old_version_suites(shake, version, first.cipher, tls12)
        else:
            names, complete = _enumerate(shake, version, first.cipher)
        protocols.append(
            ProtocolProbe(
                version=version,
                accepted=True,
                suites=tuple(_suite(n) for n in names),
                suites_complete=complete,
                suites_inferred=inferred,
            )
        )

    base = TlsFacts(host=request.host, port=request.port, ssl_request_answer=answer)
    problems: list[str] = []
    chain_facts: tuple[CertificateFacts, ...] = ()
    trust = None
    commands: tuple[str, ...] = ()
    tls13 = next((p for p in protocols if p.version == "TLSv1.3"), None)
    if any(p.accepted for p in protocols) and request.use_sslyze:
        want_tls13 = tls13 is not None and tls13.accepted
        outcome = sslyze_scan.scan(shake.endpoint, request.root_file, want_tls13=want_tls13)
        commands = tuple(outcome.commands)
        problems.extend(outcome.problems)
        if tls13 is not None and outcome.tls13_suites is not None:
            suites = tuple(_suite(openssl, iana) for iana, openssl in outcome.tls13_suites)
            protocols[protocols.index(tls13)] = tls13.model_copy(
                update={"suites": suites, "suites_complete": True}
            )
        if outcome.chain:
            now = dt.datetime.now(dt.UTC)
            chain_facts = tuple(certificates.describe(c, now) for c in outcome.chain)
            trust = certificates.validate(outcome.chain, request.host, request.root_file, now)
        elif not outcome.problems:
            problems.append("the server sent no certificate")

    oldest_first = sorted(protocols, key=lambda p: PROBE_ORDER[::-1].index(p.version))
    return base.model_copy(
        update={
            "protocols": tuple(oldest_first),
            "certificate_chain": chain_facts,
            "trust": trust,
            "problems": tuple(problems),
            "handshakes": shake.count,
            "sslyze_commands": commands,
            "duration_seconds": round(time.monotonic() - started, 3),
        }
    )
