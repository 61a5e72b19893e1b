"""Layer 1, transport: is every connection to PostgreSQL protected by modern TLS?
(Certificates are judged in `transport_certificates`, client connections in
`transport_clients`.)

The live probe (`tls` facts) is the truth about what the server accepts; the settings read over
SQL (`postgres` facts) are supporting evidence with their file:line, and a disagreement between
the two (a failed SSL reload keeps the old TLS setup live) is reported.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from auditor.checks.base import Check
from auditor.checks.transport_suite_classes import (
    class_rank,
    legacy_asks,
    suite_class,
    tls13_control,
)
from auditor.collectors.pg.server import ServerFacts, Setting
from auditor.facts import Facts, GapKind
from auditor.model import Result, Severity
from auditor.tls.endpoints import NO_TLS_ON_SOCKETS
from auditor.tls.facts import AcceptedSuite, LegacySuiteProbe, TlsFacts
from auditor.tls.profiles import profile_for, version_rank
from auditor.tls.suites import expand_cipher_string

MAX_NAMED_IN_MESSAGE = 6  # messages stay readable; evidence always lists everything


def server_facts(facts: Facts) -> ServerFacts | None:
    return facts.get(ServerFacts) if facts.has(ServerFacts) else None


def setting_of(facts: Facts, name: str) -> Setting | None:
    server = server_facts(facts)
    return server.setting(name) if server is not None else None


def listed(items: list[str]) -> str:
    if len(items) <= MAX_NAMED_IN_MESSAGE:
        return ", ".join(items)
    return (
        ", ".join(items[:MAX_NAMED_IN_MESSAGE]) + f" and {len(items) - MAX_NAMED_IN_MESSAGE} more"
    )


def probe_evidence(tls: TlsFacts) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "endpoint": f"{tls.host}:{tls.port}",
        "accepted_versions": tls.accepted_versions(),
        "refused_versions": {p.version: p.failure for p in tls.protocols if not p.accepted},
    }
    if tls.attempts:  # a multi-host DSN: which of libpq's attempts was judged, and why
        evidence["libpq_attempts"] = list(tls.attempts)
    return evidence


class LiveTlsCheck(Check):
    """A check that judges what the live TLS probe observed."""

    requires = (TlsFacts,)
    reads = (ServerFacts,)  # the settings behind what the live probe saw

    def run(self, facts: Facts) -> list[Result]:
        tls = facts.get(TlsFacts)
        if not tls.tls_works:
            return [
                self.errored(
                    facts, f"nothing to judge: {tls.no_tls_reason()}", evidence=probe_evidence(tls)
                )
            ]
        return self.judge(facts, tls)

    def judge(self, facts: Facts, tls: TlsFacts) -> list[Result]:
        raise NotImplementedError


class SslEnabled(Check):
    id = "transport.ssl_enabled"
    title = "TLS is enabled on the server"
    severity = Severity.CRITICAL
    rationale = "Without ssl = on every query, result and password crosses the network in clear."
    remediation = (
        "Set ssl = on with ssl_cert_file/ssl_key_file in postgresql.conf, reload, and use "
        "hostssl rules in pg_hba.conf."
    )
    # Either source is enough: the probe needs no login, the setting needs no network probe.
    reads = (TlsFacts, ServerFacts)  # the live answer, else the setting alone

    def run(self, facts: Facts) -> list[Result]:
        tls = facts.get(TlsFacts) if facts.has(TlsFacts) else None
        if tls is None:
            facts.get(ServerFacts)  # neither source: report why the SQL side is missing
        ssl = setting_of(facts, "ssl")
        if ssl is None and tls is None:
            return [self.errored(facts, "the server did not report the ssl setting")]
        if tls is None:
            assert ssl is not None
            return [self._settings_only(facts, ssl)]
        evidence: dict[str, Any] = {}
        problems: list[str] = []
        said: list[str] = []
        if ssl is not None:
            evidence["ssl"] = ssl.evidence()
            said.append(f"ssl = {ssl.value} ({ssl.where})")
            if ssl.value != "on":
                problems.append(f"ssl = {ssl.value} ({ssl.where})")
        evidence["live"] = {
            "endpoint": f"{tls.host}:{tls.port}",
            "ssl_request_answer": tls.ssl_request_answer,
        }
        if tls.ssl_request_answer != "S":
            problems.append(tls.no_tls_reason())
        elif not tls.tls_works:
            return [self.errored(facts, tls.no_tls_reason(), evidence=evidence)]
        else:
            said.append("the server answers the SSLRequest with 'S'")
        if problems:
            if ssl is not None and ssl.value == "on":
                problems.append("SHOW ssl and the live server disagree (SSL reload failed?)")
            return [self.failed(facts, "; ".join(problems), evidence=evidence)]
        return [self.passed(facts, "; ".join(said), evidence=evidence)]

    def _settings_only(self, facts: Facts, ssl: Setting) -> Result:
        """No live probe facts: `ssl = off` still fails; `on` passes only if the probe was
        deliberately not run, since the setting alone does not prove the server answers 'S'."""
        gap = facts.gaps.get(TlsFacts.section)
        reason = gap.reason if gap is not None else "no live TLS probe facts were collected"
        configured = f"ssl = {ssl.value} ({ssl.where})"
        evidence: dict[str, Any] = {"ssl": ssl.evidence()}
        if gap is not None and gap.kind is GapKind.ERROR:
            evidence["live"] = {"error": reason}
            if ssl.value != "on":
                return self.failed(
                    facts, f"{configured} (the live TLS probe failed: {reason})", evidence=evidence
                )
            return self.errored(
                facts,
                f"the live TLS probe failed: {reason}; {configured} alone does not show that "
                "the server answers the SSLRequest with 'S'",
                evidence=evidence,
            )
        evidence["judged_on"] = f"the ssl setting only: {reason}"
        if ssl.value != "on":
            return self.failed(facts, configured, evidence=evidence)
        if NO_TLS_ON_SOCKETS in reason:
            # The scan's own path has no TLS at all: the setting is not proof that TCP clients
            # are offered TLS, and nothing was probed.
            return self.skipped(facts, f"{configured}, but {reason}", evidence=evidence)
        return self.passed(
            facts, f"{configured}; judged on the setting only: {reason}", evidence=evidence
        )


class TlsMinVersion(LiveTlsCheck):
    id = "transport.tls_min_version"
    title = "Nothing older than TLS 1.2 is accepted"
    severity = Severity.HIGH
    rationale = (
        "TLS 1.0 and 1.1 rely on SHA-1/MD5 constructions and CBC suites with known attacks; "
        "PCI DSS and NIST SP 800-52r2 require TLS 1.2 or newer."
    )
    remediation = (
        "Set ssl_min_protocol_version = 'TLSv1.2' (or 'TLSv1.3') in postgresql.conf and reload; "
        "check the server log for 'SSL configuration was not reloaded' and probe again."
    )

    def judge(self, facts: Facts, tls: TlsFacts) -> list[Result]:
        policy = facts.target.policy
        profile = profile_for(policy)
        floor: str = policy.min_tls_version
        label = f"{floor}+"
        # The profile's own oldest protocol counts when it is stricter (modern: TLS 1.3 only).
        profile_floor = min(profile.protocols, key=version_rank, default=floor)
        if version_rank(profile_floor) > version_rank(floor):
            floor, label = profile_floor, f"{profile_floor}+ from the {profile.name} profile"
        below = [v for v in tls.accepted_versions() if version_rank(v) < version_rank(floor)]
        setting = setting_of(facts, "ssl_min_protocol_version")
        evidence = probe_evidence(tls) | {
            "policy_min_version": policy.min_tls_version,
            "profile": profile.name,
            "profile_protocols": list(profile.protocols),
            "required_min_version": floor,
            # Two separate questions, answered separately: what the running server accepts,
            # and what its configuration allows (a latent weakness OpenSSL may hide today).
            "live_accepts_below_floor": below,
        }
        # Statement 1: the live server.
        if below:
            live = f"the live server accepts {', '.join(below)} (policy: {label})"
        else:
            live = (
                f"the live server accepts nothing below {floor} "
                f"(accepted: {', '.join(tls.accepted_versions())})"
            )
        # Statement 2: the setting.
        setting_low = False
        if setting is None:
            configured = "ssl_min_protocol_version was not read (no SQL session facts)"
            evidence["setting_allows_below_floor"] = None
        else:
            evidence["ssl_min_protocol_version"] = setting.evidence()
            value = f"ssl_min_protocol_version = {setting.value} ({setting.where})"
            allowed = [
                v
                for v in ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
                if version_rank(setting.value) <= version_rank(v) < version_rank(floor)
            ]
            evidence["setting_allows_below_floor"] = allowed
            setting_low = bool(allowed)
            if setting_low:
                configured = f"the setting allows {', '.join(allowed)}: {value}"
            else:
                configured = f"the setting allows nothing below {floor}: {value}"
        if below and setting is not None and not setting_low:
            configured += (
                " - it disagrees with the live server: the running TLS setup is older than the "
                "settings (a failed SSL reload?)"
            )
        elif setting_low and not below:
            configured += (
                " - not accepted live today (OpenSSL's security level or the suites refuse "
                "them), but a change of either would enable them"
            )
        message = f"{live}; {configured}"
        compare = {"expected": f"{floor} or newer", "actual": tls.accepted_versions()}
        if below or setting_low:
            return [self.failed(facts, message, evidence=evidence, **compare)]
        return [self.passed(facts, message, evidence=evidence, **compare)]


class Tls13Supported(LiveTlsCheck):
    id = "transport.tls13_supported"
    title = "TLS 1.3 is accepted"
    severity = Severity.LOW
    rationale = (
        "TLS 1.3 removes legacy key exchange and cipher modes and encrypts more of the "
        "handshake; PCI DSS 4.0 favours it."
    )
    remediation = (
        "Use PostgreSQL 12+ linked with OpenSSL 1.1.1+ and leave ssl_max_protocol_version empty "
        "(or set it to TLSv1.3)."
    )

    def judge(self, facts: Facts, tls: TlsFacts) -> list[Result]:
        evidence = probe_evidence(tls)
        setting = setting_of(facts, "ssl_max_protocol_version")
        if setting is not None:
            evidence["ssl_max_protocol_version"] = setting.evidence()
        versions = ", ".join(tls.accepted_versions())
        if "TLSv1.3" in tls.accepted_versions():
            return [
                self.passed(facts, f"TLS 1.3 is accepted (accepted: {versions})", evidence=evidence)
            ]
        message = f"TLS 1.3 is refused (accepted: {versions})"
        if setting is not None and setting.value:
            message += f"; ssl_max_protocol_version = {setting.value} ({setting.where})"
        return [self.failed(facts, message, evidence=evidence)]


def _suite_reasons(suite: AcceptedSuite) -> list[str]:
    reasons: list[str] = []
    if suite.legacy_families:
        reasons.append(f"legacy: {', '.join(suite.legacy_families)}")
    if suite.anonymous:
        reasons.append("anonymous: no server authentication")
    if not suite.forward_secrecy:
        reasons.append(f"{suite.key_exchange.upper()} key exchange without forward secrecy")
    if not suite.aead:
        reasons.append("not AEAD")
    return reasons


def _beyond_setting(ssl_ciphers: str, tls: TlsFacts) -> list[str]:
    """Live TLS 1.2-and-older suites that the reported ssl_ciphers value does not select."""
    allowed = expand_cipher_string(ssl_ciphers)
    if allowed is None:
        return []
    # Only suites the local OpenSSL knows can be compared (not TLS 1.3, SSLv3 or legacy ones).
    live = {
        s.iana_name
        for p in tls.protocols
        if p.accepted and p.version not in ("TLSv1.3", "SSLv3")
        for s in p.suites
        if not s.legacy_families
    }
    return sorted(live - allowed)


def _by_class(offenders: list[dict[str, Any]]) -> str:
    """'class: suite (versions), ...; class: ...' in the (already sorted) offenders' order."""
    groups: dict[str, dict[str, list[str]]] = {}
    for o in offenders:
        groups.setdefault(o["class"], {}).setdefault(o["suite"], []).append(o["version"])
    parts = []
    for name, suites in groups.items():
        named = [f"{suite} ({', '.join(versions)})" for suite, versions in suites.items()]
        parts.append(f"{name}: {listed(named)}")
    return "; ".join(parts)


def _legacy_evidence(tested: LegacySuiteProbe) -> dict[str, Any]:
    if tested.accepted:
        outcome = f"accepted: {', '.join(tested.accepted)}"
    elif tested.refused:
        outcome = f"all refused ({tested.failure})"
    else:
        outcome = f"inconclusive ({tested.failure})"
    return {
        "client": "sslyze legacy client (nassl, OpenSSL 1.0.2)",
        "offered_suites": tested.offered,
        "families": list(tested.families),
        "outcome": outcome,
    }


class CipherSuites(LiveTlsCheck):
    id = "transport.cipher_suites"
    title = "Only policy cipher suites are accepted"
    severity = Severity.HIGH
    rationale = (
        "Suites without forward secrecy let a stolen server key decrypt recorded traffic; CBC "
        "suites with SHA-1 MACs have a history of padding-oracle attacks."
    )
    remediation = (
        "Set ssl_ciphers to the Mozilla intermediate list, e.g. "
        "'ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL', and reload."
    )

    def judge(self, facts: Facts, tls: TlsFacts) -> list[Result]:
        profile = profile_for(facts.target.policy)
        offenders: list[dict[str, Any]] = []
        incomplete: list[str] = []
        accepted: dict[str, list[str]] = {}
        legacy: dict[str, dict[str, Any]] = {}
        not_tested = list(tls.not_tested)
        # A bundle saved before SSLv3 and the legacy suites were probed says nothing of them.
        older_bundle = not tls.not_tested and tls.protocol("SSLv3") is None
        if older_bundle:
            not_tested.append("SSLv2, SSLv3 (not probed)")
        for probe in tls.protocols:
            if not probe.accepted:
                continue
            accepted[probe.version] = [s.iana_name for s in probe.suites]
            if not probe.suites_complete:
                incomplete.append(probe.version)
            tested = probe.legacy_suites
            if tested is not None:
                legacy[probe.version] = _legacy_evidence(tested)
                if not tested.complete:
                    incomplete.append(f"{probe.version} (legacy suites)")
            elif older_bundle and probe.version != "TLSv1.3":
                not_tested.append(
                    f"{probe.version}: suites the system OpenSSL cannot offer (3DES, RC4, DES, "
                    "IDEA, SEED, RC2, EXPORT, static DH/ECDH)"
                )
            for suite in probe.suites:
                if profile.allows_suite(suite.iana_name):
                    continue
                reasons = _suite_reasons(suite) or [f"not in the {profile.name} profile"]
                offenders.append(
                    {
                        "version": probe.version,
                        "suite": suite.iana_name,
                        "openssl_name": suite.openssl_name,
                        "class": suite_class(suite),
                        "reasons": reasons,
                    }
                )
        # Worst class first; within a class the oldest protocol first.
        offenders.sort(key=lambda o: (class_rank(o["class"]), version_rank(o["version"])))
        evidence: dict[str, Any] = {
            "profile": profile.name,
            "accepted_suites": accepted,
            "offenders": offenders,
        }
        if legacy:
            evidence["legacy_suites_tested"] = legacy
        evidence["not_tested"] = not_tested
        if incomplete:
            evidence["enumeration_incomplete_for"] = incomplete
        setting = setting_of(facts, "ssl_ciphers")
        configured = ""
        if setting is not None:
            evidence["ssl_ciphers"] = setting.evidence()
            configured = f"; ssl_ciphers = '{setting.value}' ({setting.where})"
            beyond = _beyond_setting(setting.value, tls)
            if beyond:
                evidence["accepted_beyond_ssl_ciphers"] = beyond
                configured += (
                    f" - which would not allow {listed(beyond)}: SHOW and the live server "
                    "disagree (a rejected SSL reload?)"
                )
            asks = legacy_asks(setting.value, tls)
            if asks:
                evidence["legacy_asked_in_ssl_ciphers"] = {a.word: list(a.offered) for a in asks}
            unanswered = [a.word for a in asks if not a.offered]
            if unanswered:
                configured += (
                    f"; it asks for {', '.join(unanswered)} but the live server offers no such "
                    "suite (the server's OpenSSL lacks or refuses them)"
                )
        tls13 = self._tls13(facts, tls, offenders, evidence)
        compare = {
            "expected": f"only suites of the {profile.name} profile",
            "actual": sorted({f"{o['suite']} ({o['class']})" for o in offenders})
            or "all accepted suites in the profile",
        }
        if offenders:
            message = (
                f"{len(offenders)} accepted suite(s) outside the {profile.name} profile, worst "
                f"first - {_by_class(offenders)}{configured}"
            )
            result = self.failed(facts, message, evidence=evidence, **compare)
            if tls13 is not None:
                # Only the TLS 1.3 suites need more than ssl_ciphers: say what can be done.
                note = tls13 if any(o["version"] != "TLSv1.3" for o in offenders) else ""
                result = replace(
                    result,
                    message=f"{message}; TLS 1.3: {tls13}",
                    remediation=(
                        f"{self.remediation} For TLS 1.3: {tls13}." if note else f"{tls13}."
                    ),
                )
            return [result]
        if incomplete:
            return [
                self.errored(
                    facts,
                    f"suite enumeration was cut short for {', '.join(incomplete)}: the "
                    "suites seen so far are all in policy",
                    evidence=evidence,
                )
            ]
        total = sum(len(v) for v in accepted.values())
        return [
            self.passed(
                facts,
                f"all {total} accepted suites are in the {profile.name} profile{configured}",
                evidence=evidence,
                **compare,
            )
        ]

    def _tls13(
        self,
        facts: Facts,
        tls: TlsFacts,
        offenders: list[dict[str, Any]],
        evidence: dict[str, Any],
    ) -> str | None:
        """Who controls the TLS 1.3 suites (with the server version in evidence); the advice
        when a TLS 1.3 suite is an offender, else None."""
        if "TLSv1.3" not in tls.accepted_versions():
            return None
        server = server_facts(facts)
        version = server.server_version if server is not None else None
        control = tls13_control(server.server_version_num if server else None, version)
        evidence["tls13_suites"] = {"server_version": version, "controlled_by": control}
        if server is not None and (own := server.setting("ssl_tls13_ciphers")) is not None:
            evidence["tls13_suites"]["ssl_tls13_ciphers"] = own.evidence()
        if not any(o["version"] == "TLSv1.3" for o in offenders):
            return None
        return control
