"""Layer 1, transport, seen from the clients: do the connections open at scan time use TLS
(`pg_stat_ssl`), and do the applications' own DSNs ask for verify-full?"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from auditor.checks.base import Check
from auditor.checks.transport import listed
from auditor.collectors.pg.server import GRANT_MONITOR, ServerFacts
from auditor.config import redact_dsn
from auditor.facts import Facts
from auditor.model import Result, Severity
from auditor.pg_ident import sql_ident


class ClientConnectionsEncrypted(Check):
    id = "transport.client_connections_encrypted"
    title = "Every TCP client connection uses TLS"
    severity = Severity.HIGH
    rationale = (
        "A server that offers TLS still accepts plaintext from clients that do not ask for it "
        "unless pg_hba.conf forbids it; pg_stat_ssl shows who actually connects in clear."
    )
    remediation = (
        "Use hostssl (not host) rules in pg_hba.conf and sslmode=verify-full in every client; "
        "then reconnect the plaintext clients listed in the evidence."
    )
    requires = (ServerFacts,)

    def run(self, facts: Facts) -> list[Result]:
        server = facts.get(ServerFacts)
        if not server.monitor_privileges:
            return [
                self.skipped(
                    facts,
                    "other sessions' client addresses are hidden without pg_read_all_stats: "
                    + GRANT_MONITOR.format(role=sql_ident(server.current_user)),
                )
            ]
        tcp = [b for b in server.backends if b.client_addr is not None and b.pid != server.own_pid]
        plaintext = [b for b in tcp if not b.ssl]
        evidence = {
            "tcp_client_backends": len(tcp),
            "plaintext": [
                {
                    "pid": b.pid,
                    "client_addr": b.client_addr,
                    "client_port": b.client_port,
                    "user": b.user,
                    "application_name": b.application_name,
                }
                for b in plaintext
            ],
            "encrypted": [
                {
                    "pid": b.pid,
                    "client_addr": b.client_addr,
                    "user": b.user,
                    "tls_version": b.tls_version,
                    "cipher": b.cipher,
                }
                for b in tcp
                if b.ssl
            ],
            "excluded_scanner_pid": server.own_pid,
        }
        if plaintext:
            named = [
                f"{b.client_addr} user {b.user} application "
                f"{b.application_name or '(none)'} (pid {b.pid})"
                for b in plaintext
            ]
            return [
                self.failed(
                    facts,
                    f"{len(plaintext)} of {len(tcp)} TCP client connection(s) without TLS: "
                    f"{listed(named)}",
                    evidence=evidence,
                )
            ]
        if not tcp:
            # No client to judge is no evidence either way: skip, never a pass over nothing.
            return [
                self.skipped(
                    facts,
                    "nothing to judge: no TCP client connection besides the scanner's own at "
                    "scan time",
                    evidence=evidence,
                )
            ]
        return [
            self.passed(
                facts, f"all {len(tcp)} TCP client connection(s) use TLS", evidence=evidence
            )
        ]


class ClientSslmode(Check):
    id = "transport.client_sslmode"
    title = "Application DSNs verify the server (sslmode=verify-full + root cert)"
    severity = Severity.MEDIUM
    rationale = (
        "sslmode=require encrypts but accepts any certificate, so an attacker in the path can "
        "impersonate the server; only verify-full with a root certificate checks CA and name."
    )
    remediation = (
        "Set sslmode=verify-full and sslrootcert=<CA file> (or sslrootcert=system) in each "
        "application's connection string or PGSSLMODE/PGSSLROOTCERT."
    )

    def run(self, facts: Facts) -> list[Result]:
        dsns = list(facts.target.options.get("application_dsns") or [])
        if not dsns:
            return [self.skipped(facts, "no application_dsns are declared for this target")]
        results: list[Result] = []
        for dsn in dsns:
            shown = redact_dsn(dsn)
            params = dict(parse_qsl(urlsplit(dsn).query))
            mode = params.get("sslmode")
            root = params.get("sslrootcert")
            evidence = {"dsn": shown, "sslmode": mode, "sslrootcert": root}
            problems: list[str] = []
            if mode != "verify-full":
                problems.append(f"sslmode={mode or '(unset: libpq default prefer)'}")
            if not root:
                problems.append("no sslrootcert")
            if problems:
                results.append(
                    self.failed(
                        facts,
                        f"{', '.join(problems)} (needs sslmode=verify-full with sslrootcert)",
                        resource=shown,
                        evidence=evidence,
                    )
                )
            else:
                results.append(
                    self.passed(
                        facts,
                        f"sslmode=verify-full, sslrootcert={root}",
                        resource=shown,
                        evidence=evidence,
                    )
                )
        return results
