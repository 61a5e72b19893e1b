"""Authentication and access: who may connect, from where, how, and how passwords are stored."""

from __future__ import annotations

from auditor.checks.base import Check
from auditor.collectors.pg.server import ServerFacts
from auditor.facts import Facts
from auditor.model import Result, Severity


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
        if setting.value != "scram-sha-256":
            return [self.failed(facts, message, evidence=evidence)]
        return [self.passed(facts, message, evidence=evidence)]
