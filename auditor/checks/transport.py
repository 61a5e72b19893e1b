"""Layer 1, transport: is every connection to PostgreSQL protected by modern TLS?"""

from __future__ import annotations

from auditor.checks.base import Check
from auditor.collectors.pg.server import ServerFacts
from auditor.facts import Facts
from auditor.model import Result, Severity


class SslEnabled(Check):
    id = "transport.ssl_enabled"
    title = "TLS is enabled on the server"
    severity = Severity.CRITICAL
    rationale = "Without ssl = on every query, result and password crosses the network in clear."
    remediation = (
        "Set ssl = on with ssl_cert_file/ssl_key_file in postgresql.conf, reload, and use "
        "hostssl rules in pg_hba.conf."
    )
    requires = (ServerFacts,)

    def run(self, facts: Facts) -> list[Result]:
        server = facts.get(ServerFacts)
        ssl = server.setting("ssl")
        if ssl is None:
            return [self.errored(facts, "the server did not report the ssl setting")]
        evidence = {"ssl": ssl.evidence()}
        if ssl.value != "on":
            return [self.failed(facts, f"ssl = {ssl.value} ({ssl.where})", evidence=evidence)]
        return [self.passed(facts, f"ssl = on ({ssl.where})", evidence=evidence)]
