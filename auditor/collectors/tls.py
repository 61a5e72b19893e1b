"""The TLS collector: a live, gentle STARTTLS probe of the target's PostgreSQL port.

It runs before the PostgreSQL session and needs no login, so a target whose SQL login fails
still gets its TLS verdicts. The CA it validates against is the DSN's `sslrootcert` (relative
to the config file), or the system store when there is none or it says `system`.
"""

from __future__ import annotations

from pathlib import Path

from auditor.collectors.base import CollectContext, Collector, TargetProblem
from auditor.collectors.pg.session import one_line
from auditor.collectors.postgres import session_sections
from auditor.config import PostgresTarget
from auditor.facts import Facts, Gap, GapKind
from auditor.model import TargetStatus
from auditor.tls.facts import TlsFacts
from auditor.tls.probe import ProbeRequest, probe
from auditor.tls.starttls import Unreachable


def probe_request(target: PostgresTarget, config_dir: Path, timeout: float) -> ProbeRequest:
    parts = target.dsn_parts
    root = target.file_params(config_dir).get("sslrootcert")
    return ProbeRequest(
        host=str(parts["host"]),
        port=int(parts["port"]),
        timeout=timeout,
        root_file=Path(root) if root else None,
        # libpq connects to hostaddr when given but still checks the certificate against host.
        address=parts["params"].get("hostaddr") or None,
    )


class TlsCollector(Collector):
    name = "tls"
    produces = frozenset({"tls"})
    order = 20

    def collect(self, ctx: CollectContext, facts: Facts) -> TargetProblem | None:
        target = ctx.target
        if not isinstance(target, PostgresTarget):
            return None
        if not target.tls_probe:
            facts.mark_missing(
                TlsFacts.section,
                Gap(
                    GapKind.SKIP,
                    "the live TLS probe is disabled for this target (tls_probe: false)",
                ),
            )
            return None
        # The SSLRequest answer is part of connecting: the target's connect timeout bounds it.
        timeout = min(facts.target.policy.tls_probe_timeout_seconds, target.connect_timeout_seconds)
        request = probe_request(target, ctx.config_dir, timeout)
        try:
            facts.add(probe(request))
        except Unreachable as exc:
            # Not the target's verdict: the SQL session that follows decides whether the target
            # is unreachable (a probe dropped by a proxy or a flaky network must not mark a
            # server that was then scanned as unreachable).
            facts.mark_missing(TlsFacts.section, Gap(GapKind.ERROR, f"unreachable: {exc}"))
            if not any(ctx.wants(s) for s in session_sections()):
                # A narrowed scan that opens no SQL session: the probe is all there is to say.
                return TargetProblem(TargetStatus.UNREACHABLE, f"unreachable: {exc}")
        except Exception as exc:  # a probe bug must not cost the target its other verdicts
            reason = f"TLS probe failed: {type(exc).__name__}: {one_line(str(exc))}"
            facts.mark_missing(TlsFacts.section, Gap(GapKind.ERROR, reason))
        return None
