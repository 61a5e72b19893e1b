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
4. through sslyze's connection class (`sslyze_scan`): TLS 1.3 suites by elimination (the first
   completed one also returns the certificate chain), SSLv3 with the legacy client's whole list,
   and for each accepted version up to TLS 1.2 one bulk handshake offering only the legacy
   suites the system OpenSSL cannot offer (3DES, RC4, DES, IDEA, SEED, RC2, EXPORT, static
   DH/ECDH), enumerated by elimination only if the server accepts one.

Completed handshakes end with close_notify, which PostgreSQL does not log. SSLv2 is not probed
(`not_tested` says so).
"""

from __future__ import annotations

import datetime as dt
import ssl
import time
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509

from auditor.tls import certificates, sslyze_scan
from auditor.tls.facts import (
    AcceptedSuite,
    CertificateFacts,
    LegacySuiteProbe,
    ProtocolProbe,
    TlsFacts,
)
from auditor.tls.profiles import version_rank
from auditor.tls.starttls import Endpoint, Handshake, Unreachable, handshake_with
from auditor.tls.starttls import context as starttls_context
from auditor.tls.suites import (
    LEGACY_FAMILIES,
    OFFER_ALL,
    legacy_families,
    legacy_properties,
    properties,
)

# Newest first: the first answer tells most, and a server that drops connections is found fast.
PROBE_ORDER = ("TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1")
MAX_SUITES_PER_VERSION = 80  # a bound on handshakes, far above what any server accepts


@dataclass(frozen=True)
class ProbeRequest:
    host: str
    port: int
    timeout: float = 10.0
    root_file: Path | None = None  # sslrootcert; None means the system store
    crl_file: Path | None = None  # sslcrl: libpq then requires a CRL for every chain certificate
    address: str | None = None  # connect here instead of resolving host (libpq hostaddr)
    host_named: bool = True  # False: only hostaddr was given, no name to verify against
    use_sslyze: bool = True


def _suite(openssl_name: str, iana: str | None = None) -> AcceptedSuite:
    props = properties(openssl_name) or (properties(iana) if iana else None)
    families: tuple[str, ...] = ()
    if props is None and openssl_name in sslyze_scan.TLS13_SUITES:
        # TLS 1.3 suites the system OpenSSL does not enable (CCM): all are AEAD and FS.
        return AcceptedSuite(
            iana_name=openssl_name,
            openssl_name=openssl_name,
            code="unknown",
            key_exchange="any",
            forward_secrecy=True,
            aead=True,
            bits=128,
        )
    if props is None:
        props = legacy_properties(openssl_name)
        families = legacy_families(openssl_name) if props is not None else ()
    if props is None:  # a suite no table here knows
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
        code=f"0x{props.code:04x}" if props.code >= 0 else "unknown",
        key_exchange=props.key_exchange,
        forward_secrecy=props.forward_secrecy,
        aead=props.aead,
        anonymous=props.anonymous,
        bits=props.bits,
        legacy_families=families,
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
            # One context per handshake: building a second one only to test the suite
            # string cost as much again (OpenSSL 3 contexts are not cheap to make).
            ctx = starttls_context(version, ciphers)
        except ssl.SSLError:
            return None
        self.count += 1
        return handshake_with(self.endpoint, ctx)


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


def _legacy_family_list() -> list[str]:
    found = {f for name in sslyze_scan.legacy_only_suites() for f in legacy_families(name)}
    return [f for f in LEGACY_FAMILIES if f in found]


def _eliminate(
    client: sslyze_scan.SslyzeClient,
    version: str,
    names: tuple[str, ...],
    found: list[str],
    *,
    legacy: bool,
    chain: list[x509.Certificate] | None = None,
) -> bool:
    """Grow `found` by offering `names` minus `found` until refused; True when complete.
    Fills `chain` (when given and still empty) from the first completed handshake."""
    while len(found) < MAX_SUITES_PER_VERSION:
        rest = tuple(n for n in names if n not in found)
        if not rest:
            return True
        want_chain = chain is not None and not chain
        outcome = client.handshake(version, rest, legacy=legacy, want_chain=want_chain)
        if not outcome.accepted:
            return outcome.refused
        if want_chain and chain is not None:
            chain.extend(outcome.chain)
        if outcome.cipher is None or outcome.cipher in found:
            return False
        found.append(outcome.cipher)
    return False


def _legacy_suites(
    client: sslyze_scan.SslyzeClient, version: str
) -> tuple[LegacySuiteProbe, list[str]]:
    """One bulk handshake offering only the legacy-only suites; enumerate only if accepted."""
    names = sslyze_scan.legacy_only_suites()
    families = tuple(_legacy_family_list())
    bulk = client.handshake(version, names, legacy=True)
    if not bulk.accepted:
        return (
            LegacySuiteProbe(
                offered=len(names),
                families=families,
                refused=bulk.refused,
                failure=bulk.failure,
                complete=bulk.refused,
            ),
            [],
        )
    found = [bulk.cipher] if bulk.cipher else []
    complete = bulk.cipher in names and _eliminate(client, version, names, found, legacy=True)
    return (
        LegacySuiteProbe(
            offered=len(names),
            families=families,
            refused=False,
            accepted=tuple(_suite(n).iana_name for n in found),
            complete=complete,
        ),
        found,
    )


def _through_sslyze(
    client: sslyze_scan.SslyzeClient,
    protocols: list[ProtocolProbe],
    problems: list[str],
    done: list[str],
) -> list[x509.Certificate]:
    """TLS 1.3 suites, the certificate chain, SSLv3 and the legacy suites (updates
    `protocols` in place); returns the chain."""
    chain: list[x509.Certificate] = []
    tls13 = next((p for p in protocols if p.version == "TLSv1.3" and p.accepted), None)
    if tls13 is not None:
        found = [s.iana_name for s in tls13.suites]
        complete = _eliminate(
            client, "TLSv1.3", sslyze_scan.TLS13_SUITES, found, legacy=False, chain=chain
        )
        protocols[protocols.index(tls13)] = tls13.model_copy(
            update={"suites": tuple(_suite(n) for n in found), "suites_complete": complete}
        )
        done.append("tls_1_3_suites")
    if not chain:
        newest = max((p for p in protocols if p.accepted), key=lambda p: version_rank(p.version))
        outcome = client.handshake(newest.version, None, want_chain=True)
        chain.extend(outcome.chain)
        if not outcome.accepted:
            problems.append(f"the certificate chain could not be fetched: {outcome.failure}")
    if chain:
        done.append("certificate_chain")
    elif not problems:
        problems.append("the server sent no certificate")

    for index, probe_ in enumerate(list(protocols)):
        if not probe_.accepted or probe_.version == "TLSv1.3":
            continue
        legacy, names = _legacy_suites(client, probe_.version)
        protocols[index] = probe_.model_copy(
            update={
                "suites": probe_.suites + tuple(_suite(n) for n in names),
                "legacy_suites": legacy,
            }
        )
    done.append("legacy_suites")

    sslv3 = client.handshake("SSLv3", None, legacy=True)
    if sslv3.accepted and sslv3.cipher:
        found = [sslv3.cipher]
        every = sslyze_scan.legacy_client_suites()
        complete = _eliminate(client, "SSLv3", every, found, legacy=True)
        protocols.append(
            ProtocolProbe(
                version="SSLv3",
                accepted=True,
                suites=tuple(_suite(n) for n in found),
                suites_complete=complete,
            )
        )
    else:
        protocols.append(ProtocolProbe(version="SSLv3", accepted=False, failure=sslv3.failure))
    done.append("sslv3")
    return chain


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
    done: list[str] = []
    not_tested = ["SSLv2 (not probed)"]
    extra = 0
    if any(p.accepted for p in protocols):
        if request.use_sslyze:
            client = sslyze_scan.SslyzeClient(shake.endpoint)
            chain = _through_sslyze(client, protocols, problems, done)
            extra = client.count
            if chain:
                now = dt.datetime.now(dt.UTC)
                chain_facts = tuple(certificates.describe(c, now) for c in chain)
                trust = certificates.validate(
                    shake.endpoint,
                    chain_facts,
                    request.host,
                    request.root_file,
                    request.crl_file,
                    host_named=request.host_named,
                )
        else:
            not_tested += ["SSLv3", f"legacy suites ({', '.join(_legacy_family_list())})"]
            problems.append("the certificate chain was not fetched (probe without sslyze)")

    oldest_first = sorted(protocols, key=lambda p: version_rank(p.version))
    return base.model_copy(
        update={
            "protocols": tuple(oldest_first),
            "certificate_chain": chain_facts,
            "trust": trust,
            "problems": tuple(problems),
            "handshakes": shake.count + extra + (trust.verification_handshakes if trust else 0),
            "sslyze_commands": tuple(done),
            "not_tested": tuple(not_tested),
            "duration_seconds": round(time.monotonic() - started, 3),
        }
    )
