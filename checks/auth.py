"""Authentication and access: who may connect, from where, how, and how passwords are stored.

The auth.hba_* checks read pg_hba rules from the live `pg_hba_file_rules` view when the scan
role may read it, else from the `hba_file` configured for the target (parsed offline), in one
rule model; verdicts only consider rules that a connection can still reach (first match wins).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from auditor.checks.base import Check
from auditor.collectors.hba_file import SECTION as HBA_FILE_SECTION
from auditor.collectors.hba_file import HbaFileFacts
from auditor.collectors.pg.server import ServerFacts
from auditor.facts import Facts, GapKind
from auditor.model import Result, Severity, Status
from auditor.pghba.live import rules_from_view
from auditor.pghba.rules import HbaRule, HbaRuleSet
from auditor.pghba.semantics import UNENCRYPTED_TYPES, HbaAnalysis, Reach

OFFLINE_HINT = "or set hba_file in the target config to audit a copy of pg_hba.conf offline"
# Without role facts (offline audit of a file alone) the bootstrap superuser is assumed.
ASSUMED_SUPERUSERS = ("postgres",)
STRONG_METHODS = frozenset({"scram-sha-256", "cert", "gss", "sspi", "reject"})
BROAD_ADDRESSES = frozenset({"all", "0.0.0.0/0", "::/0"})
_MAX_LISTED = 10


class PasswordEncryption(Check):
    id = "auth.password_encryption"
    title = "New passwords are stored as SCRAM-SHA-256"
    severity = Severity.HIGH
    rationale = (
        "md5 hashes are replayable and crackable; SCRAM-SHA-256 is salted, iterated and never "
        "sends the password."
    )
    remediation = (
        "Set password_encryption = 'scram-sha-256', reload, then re-set every role's password "
        "so its stored hash is re-computed."
    )
    requires = (ServerFacts,)

    def run(self, facts: Facts) -> list[Result]:
        setting = facts.get(ServerFacts).setting("password_encryption")
        if setting is None:
            return [self.errored(facts, "the server did not report password_encryption")]
        evidence = {"password_encryption": setting.evidence()}
        message = f"password_encryption = {setting.value} ({setting.where})"
        compare = {"expected": "scram-sha-256", "actual": setting.value}
        if setting.value != "scram-sha-256":
            return [self.failed(facts, message, evidence=evidence, **compare)]
        return [self.passed(facts, message, evidence=evidence, **compare)]


# -- where the pg_hba rules come from --------------------------------------------------------


@dataclass(frozen=True)
class Unavailable:
    status: Status
    reason: str


@dataclass(frozen=True)
class RoleFacts:
    """What the checks know about roles: live facts, or an assumption offline."""

    superusers: tuple[str, ...]
    memberships: dict[str, tuple[str, ...]]
    known: bool


def hba_rules(facts: Facts) -> HbaRuleSet | Unavailable:
    """The live view when readable, else the parsed hba_file, else why neither is there."""
    server = facts.sections.get(ServerFacts.section)
    if isinstance(server, ServerFacts) and server.hba_rules is not None:
        setting = server.setting("hba_file")
        return rules_from_view(server.hba_rules, setting.value if setting else "pg_hba.conf")
    file_facts = facts.sections.get(HBA_FILE_SECTION)
    if isinstance(file_facts, HbaFileFacts):
        return file_facts.rules
    file_gap = facts.gaps.get(HBA_FILE_SECTION)
    if file_gap is not None and file_gap.kind is GapKind.ERROR:
        return Unavailable(Status.ERROR, file_gap.reason)
    if isinstance(server, ServerFacts):
        grant = server.unavailable.get("hba_rules", "the server did not list its pg_hba rules")
        return Unavailable(Status.SKIP, f"pg_hba rules are not readable: {grant} ({OFFLINE_HINT})")
    live_gap = facts.gaps.get(ServerFacts.section)
    if live_gap is not None and live_gap.kind is GapKind.ERROR:
        return Unavailable(Status.ERROR, f"{live_gap.reason} ({OFFLINE_HINT})")
    return Unavailable(Status.SKIP, f"no pg_hba rules were collected ({OFFLINE_HINT})")


def role_facts(facts: Facts) -> RoleFacts:
    server = facts.sections.get(ServerFacts.section)
    if isinstance(server, ServerFacts):
        return RoleFacts(
            superusers=tuple(r.name for r in server.roles if r.superuser and r.can_login),
            memberships={r.name: r.member_of for r in server.roles},
            known=True,
        )
    return RoleFacts(superusers=ASSUMED_SUPERUSERS, memberships={}, known=False)


def rule_evidence(item: Reach, **extra: Any) -> dict[str, Any]:
    evidence: dict[str, Any] = {**item.rule.evidence(), **extra}
    if item.shadowed_by:
        evidence["narrowed_by"] = list(item.shadowed_by)
    return evidence


def listed(items: list[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    return shown + (f" and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else "")


class HbaCheck(Check):
    """Shared frame of the auth.hba_* checks: find the rules, report unusable lines, judge."""

    remediation = ""
    passed_message: ClassVar[str]
    # The policy the rules are judged against, shown as "expected" beside what was found.
    expected: ClassVar[str | None] = None
    # The live view (and role list) when readable, else the configured hba_file.
    reads = (ServerFacts, HbaFileFacts)

    def run(self, facts: Facts) -> list[Result]:
        found = hba_rules(facts)
        if isinstance(found, Unavailable):
            return [self.result(facts, found.status, found.reason)]
        if not found.rules and not found.problems:
            # No rule seen is no evidence (a server with none admits nobody, so the scanner
            # would not be connected): nothing to judge, never a pass.
            return [
                self.skipped(
                    facts,
                    f"no pg_hba rule was read from {_source_name(found)}: nothing to judge",
                    evidence={"source": found.source, "path": found.path, "rules": 0},
                )
            ]
        results = self.judge(facts, found, HbaAnalysis(found.rules).all())
        if not any(r.status is Status.FAIL for r in results):
            results.append(
                self.passed(
                    facts,
                    f"{self.passed_message} ({len(found.rules)} rules from {_source_name(found)})",
                    evidence={
                        "source": found.source,
                        "path": found.path,
                        "rules": len(found.rules),
                    },
                    expected=self.expected,
                    actual=f"all {len(found.rules)} rules comply",
                )
            )
        if found.problems:
            first = found.problems[0]
            results.append(
                self.errored(
                    facts,
                    f"{len(found.problems)} pg_hba line(s) are invalid, so the server refuses to "
                    f"load this file and the rules in force may differ; first: {first}",
                    resource=first.location,
                    evidence={"problems": [str(p) for p in found.problems[:_MAX_LISTED]]},
                )
            )
        return results

    def judge(self, facts: Facts, rules: HbaRuleSet, reached: list[Reach]) -> list[Result]:
        raise NotImplementedError


def _source_name(rules: HbaRuleSet) -> str:
    return "pg_hba_file_rules" if rules.source == "pg_hba_file_rules" else rules.path


class HbaHostsslOnly(HbaCheck):
    id = "auth.hba_hostssl_only"
    title = "Remote clients can only connect over TLS (hostssl)"
    severity = Severity.CRITICAL
    rationale = (
        "A host or hostnossl rule lets a remote client authenticate and query without TLS, "
        "so passwords and personal data cross the network in clear."
    )
    remediation = (
        "Turn each cited host/hostnossl rule for non-loopback addresses into hostssl (or "
        "reject), and keep plain host rules for 127.0.0.1/::1 only."
    )
    passed_message = "no host/hostnossl rule admits a non-loopback address"

    def judge(self, facts: Facts, rules: HbaRuleSet, reached: list[Reach]) -> list[Result]:
        out = []
        for item in reached:
            rule = item.rule
            if rule.type in UNENCRYPTED_TYPES and rule.method != "reject" and item.remote:
                out.append(
                    self.failed(
                        facts,
                        f"{rule.location}: '{rule.text()}' admits connections without TLS from "
                        f"{listed(item.exposure)}",
                        resource=rule.location,
                        evidence=rule_evidence(item, reaches=item.exposure[:_MAX_LISTED]),
                    )
                )
        return out


class HbaNoTrust(HbaCheck):
    id = "auth.hba_no_trust"
    title = "No pg_hba rule lets clients in without authentication (trust)"
    severity = Severity.CRITICAL
    rationale = "trust admits anyone who can reach the server as any role they name."
    remediation = (
        "Replace trust with scram-sha-256 (or cert) for TCP rules; use peer for local sockets."
    )
    passed_message = "no reachable trust rule"

    def judge(self, facts: Facts, rules: HbaRuleSet, reached: list[Reach]) -> list[Result]:
        out = []
        for item in reached:
            rule = item.rule
            if not item.reachable or rule.method != "trust":
                continue
            if rule.is_local:
                out.append(
                    self.failed(
                        facts,
                        f"{rule.location}: '{rule.text()}' lets any local OS user connect as the "
                        "named roles without a password",
                        resource=rule.location,
                        evidence=rule_evidence(item),
                        severity=Severity.LOW,
                    )
                )
            else:
                out.append(
                    self.failed(
                        facts,
                        f"{rule.location}: '{rule.text()}' admits TCP clients without any "
                        "authentication",
                        resource=rule.location,
                        evidence=rule_evidence(item),
                    )
                )
        return out


class HbaStrongMethods(HbaCheck):
    id = "auth.hba_strong_methods"
    title = "pg_hba rules use strong authentication methods"
    severity = Severity.HIGH
    rationale = (
        "md5 and password expose replayable or clear-text secrets, ident trusts the client "
        "machine; scram-sha-256, cert, gss, sspi and peer (local) do not."
    )
    remediation = (
        "Use scram-sha-256 (after re-setting passwords under password_encryption = "
        "scram-sha-256), cert, or gss; peer for local sockets."
    )
    passed_message = "every reachable rule uses scram-sha-256, cert, gss, sspi, peer or reject"
    expected = "scram-sha-256, cert, gss, sspi, peer (local) or reject"

    def judge(self, facts: Facts, rules: HbaRuleSet, reached: list[Reach]) -> list[Result]:
        out = []
        for item in reached:
            rule = item.rule
            strong = rule.method in STRONG_METHODS or (rule.is_local and rule.method == "peer")
            if item.reachable and not strong:
                out.append(
                    self.failed(
                        facts,
                        f"{rule.location}: '{rule.text()}' uses weak method {rule.method}",
                        resource=rule.location,
                        evidence=rule_evidence(item, method=rule.method),
                        expected=self.expected,
                        actual=rule.method,
                    )
                )
        return out


class HbaNetworkScope(HbaCheck):
    id = "auth.hba_network_scope"
    title = "pg_hba rules are limited to known networks"
    severity = Severity.MEDIUM
    rationale = (
        "A rule for 0.0.0.0/0, ::/0 or all lets the whole internet try to log in; listing the "
        "application networks keeps brute force and exploits out."
    )
    remediation = "Replace 0.0.0.0/0, ::/0 and all with the application's subnets."
    passed_message = "no reachable accepting rule for 0.0.0.0/0, ::/0 or all"

    def judge(self, facts: Facts, rules: HbaRuleSet, reached: list[Reach]) -> list[Result]:
        out = []
        for item in reached:
            rule = item.rule
            if item.reachable and rule.method != "reject" and rule.address in BROAD_ADDRESSES:
                out.append(
                    self.failed(
                        facts,
                        f"{rule.location}: '{rule.text()}' accepts clients from any address",
                        resource=rule.location,
                        evidence=rule_evidence(item),
                    )
                )
        return out


class HbaRemoteSuperuser(HbaCheck):
    id = "auth.hba_remote_superuser"
    title = "Superusers cannot log in from remote addresses"
    severity = Severity.MEDIUM
    rationale = (
        "A stolen or guessed superuser password is game over; keeping superusers to local "
        "sockets (or loopback) forces an attacker through the host first."
    )
    remediation = (
        "Add 'host all <superuser> all reject' (or 0.0.0.0/0 and ::/0) before the broad rules, "
        "or name the application roles instead of all."
    )
    passed_message = "no reachable rule admits a superuser from a non-loopback address"

    def judge(self, facts: Facts, rules: HbaRuleSet, reached: list[Reach]) -> list[Result]:
        roles = role_facts(facts)
        admitted: dict[str, tuple[Reach, list[str]]] = {}
        for superuser in roles.superusers:
            for item in HbaAnalysis(rules.rules, roles.memberships).all(superuser):
                if item.rule.method != "reject" and item.remote:
                    key = item.rule.location
                    admitted.setdefault(key, (item, []))[1].append(superuser)
        out = []
        for location, (item, names) in admitted.items():
            extra: dict[str, Any] = {"superusers": names, "reaches": item.exposure[:_MAX_LISTED]}
            if not roles.known:
                extra["assumption"] = "roles unknown (file-only audit): postgres assumed superuser"
            out.append(
                self.failed(
                    facts,
                    f"{location}: '{item.rule.text()}' admits superuser {listed(names)} from "
                    f"{listed(item.exposure)}",
                    resource=location,
                    evidence=rule_evidence(item, **extra),
                )
            )
        return out


# -- stored password hashes ------------------------------------------------------------------


class RolePasswordHashes(Check):
    id = "auth.role_password_hashes"
    title = "Stored role passwords are SCRAM-SHA-256 hashes"
    severity = Severity.HIGH
    rationale = (
        "An md5 hash is enough to log in (pass-the-hash) and cracks fast; a role admitted by "
        "trust needs no password at all."
    )
    remediation = (
        "With password_encryption = 'scram-sha-256', re-set each cited role's password "
        "(ALTER ROLE ... PASSWORD, or \\password in psql); remove the trust rules that admit "
        "login roles."
    )
    requires = (ServerFacts,)

    def run(self, facts: Facts) -> list[Result]:
        server = facts.get(ServerFacts)
        out = self._trust_logins(facts, server)
        kinds = server.password_kinds
        if kinds is None:
            reason = server.unavailable.get("password_kinds", "stored password kinds unknown")
            out.append(self.skipped(facts, f"stored hashes not checked: {reason}"))
            return out
        login = {r.name: r.can_login for r in server.roles}
        for role, kind in sorted(kinds.items()):
            if kind in ("md5", "plaintext"):
                can_login = login.get(role, True)
                note = "" if can_login else " (NOLOGIN for now)"
                out.append(
                    self.failed(
                        facts,
                        f"role {role} stores its password as {kind}, not SCRAM-SHA-256{note}",
                        resource=role,
                        evidence={"role": role, "stored_as": kind, "can_login": can_login},
                    )
                )
        if not any(r.status is Status.FAIL for r in out):
            scram = sorted(r for r, k in kinds.items() if k == "scram-sha-256")
            none = sorted(r for r, k in kinds.items() if k is None)
            hba = hba_rules(facts)
            trust_note = (
                "no trust rule admits a login role"
                if not isinstance(hba, Unavailable)
                else f"trust rules not judged ({hba.reason})"
            )
            out.append(
                self.passed(
                    facts,
                    f"{len(scram)} role(s) store SCRAM-SHA-256 hashes, {len(none)} login "
                    f"role(s) have no password; {trust_note}",
                    evidence={"scram_sha_256": scram, "no_password": none},
                )
            )
        return out

    def _trust_logins(self, facts: Facts, server: ServerFacts) -> list[Result]:
        """Login roles that a reachable trust rule admits: they need no password at all."""
        rules = hba_rules(facts)
        if isinstance(rules, Unavailable):
            return []
        roles = role_facts(facts)
        analysis = HbaAnalysis(rules.rules, roles.memberships)
        trust = [i for i, rule in enumerate(rules.rules) if rule.method == "trust"]
        out = []
        for role in (r for r in server.roles if r.can_login):
            via = [rules.rules[i] for i in trust if analysis.reach_of(i, role.name).reachable]
            if not via:
                continue
            tcp = [r for r in via if not r.is_local]
            shown: list[HbaRule] = tcp or via
            out.append(
                self.failed(
                    facts,
                    f"role {role.name} can log in with no password through trust rule "
                    f"{shown[0].location} ('{shown[0].text()}')",
                    resource=role.name,
                    evidence={
                        "role": role.name,
                        "trust_rules": [r.location for r in via],
                        "superuser": role.superuser,
                    },
                    severity=None if tcp else Severity.LOW,
                )
            )
        return out
