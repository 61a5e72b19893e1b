"""Audit trail: can access to personal data and to the server be reconstructed afterwards?"""

from __future__ import annotations

from auditor.checks.base import Check
from auditor.collectors.pg.server import ServerFacts
from auditor.facts import Facts
from auditor.model import Result, Severity


class ConnectionLogging(Check):
    id = "audit.connection_logging"
    title = "Connections and disconnections are logged"
    severity = Severity.MEDIUM
    rationale = "Who connected, from where and for how long is the first question of any incident."
    remediation = "Set log_connections = on and log_disconnections = on, then reload."
    requires = (ServerFacts,)

    def run(self, facts: Facts) -> list[Result]:
        server = facts.get(ServerFacts)
        names = ("log_connections", "log_disconnections")
        found = {n: server.setting(n) for n in names}
        evidence = {n: s.evidence() for n, s in found.items() if s is not None}
        off = [
            f"{n} = {s.value if s else 'unknown'} ({s.where if s else 'not reported'})"
            for n, s in found.items()
            if s is None or s.value != "on"
        ]
        if off:
            return [self.failed(facts, "; ".join(off), evidence=evidence)]
        return [self.passed(facts, "log_connections and log_disconnections are on",
                            evidence=evidence)]
