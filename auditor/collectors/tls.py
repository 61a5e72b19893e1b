"""The TLS collector: a live, gentle STARTTLS probe of the target's PostgreSQL port.

It runs before the PostgreSQL session and needs no login, so a target whose SQL login fails
still gets its TLS verdicts. It probes the server libpq would connect to for the same DSN and
environment (`endpoints`), so the probe and the SQL session judge one server. The CA it
validates against is the DSN's `sslrootcert` (relative to the config file), or the system store
when there is none or it says `system`.
"""

from __future__ import annotations

from pathlib import Path

from auditor.collectors.base import CollectContext, Collector, TargetProblem
from auditor.collectors.pg.session import one_line
from auditor.collectors.postgres import session_sections
from auditor.config import PostgresTarget
from auditor.facts import Facts, Gap, GapKind
from auditor.model import TargetStatus
from auditor.tls.endpoints import (
    NO_TLS_ON_SOCKETS,
    EndpointError,
    LibpqEndpoint,
    libpq_endpoints,
    selection_caveat,
)
from auditor.tls.facts import TlsFacts
from auditor.tls.probe import ProbeRequest, probe
from auditor.tls.starttls import Unreachable

Attempt = tuple[LibpqEndpoint, ProbeRequest | None]


def probe_requests(target: PostgresTarget, config_dir: Path, timeout: float) -> list[Attempt]:
    """libpq's connection attempts for the target's DSN (see `endpoints`), each with the probe
    request that judges it (None for a Unix socket, where TLS does not apply)."""
    files = target.file_params(config_dir)
    root, crl = files.get("sslrootcert"), files.get("sslcrl")
    return [
        (
            endpoint,
            None
            if endpoint.socket_dir is not None
            else ProbeRequest(
                host=endpoint.host,
                port=endpoint.port,
                timeout=timeout,
                root_file=Path(root) if root else None,
                crl_file=Path(crl) if crl else None,
                # libpq connects to hostaddr when given but checks the certificate against host.
                address=endpoint.address,
                host_named=endpoint.host_named,
            ),
        )
        for endpoint in libpq_endpoints(target.dsn)
    ]


def _probe_like_libpq(attempts: list[Attempt], caveat: str | None = None) -> TlsFacts | Gap:
    """Probe the first attempt that answers, as libpq moves on from one that does not."""
    passed: list[str] = []
    for endpoint, request in attempts:
        if request is None:
            if endpoint.socket_exists():
                return Gap(
                    GapKind.SKIP,
                    f"the DSN connects over the {endpoint.label}, {NO_TLS_ON_SOCKETS}: "
                    "no TLS probe was made (give a TCP host to judge TLS)",
                )
            passed.append(f"{endpoint.label}: no such socket")
            continue
        try:
            facts = probe(request)
        except Unreachable as exc:
            said = str(exc)  # names host:port already; hostaddr is added when it differs
            named = f"{endpoint.host}:{endpoint.port}" in said and endpoint.address is None
            passed.append(said if named else f"{endpoint.label}: {said}")
            continue
        if len(attempts) > 1:
            tried = [*passed, f"{endpoint.label}: probed (as libpq would use)"]
            facts = facts.model_copy(update={"attempts": (*tried, *([caveat] if caveat else []))})
        return facts
    # Not the target's verdict: the SQL session that follows decides whether the target is
    # unreachable (a probe dropped by a proxy or a flaky network must not mark a server that
    # was then scanned as unreachable).
    return Gap(GapKind.ERROR, f"unreachable: {'; '.join(passed)}")


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
        try:
            outcome = _probe_like_libpq(
                probe_requests(target, ctx.config_dir, timeout), selection_caveat(target.dsn)
            )
            if isinstance(outcome, Gap):
                facts.mark_missing(TlsFacts.section, outcome)
                if outcome.kind is GapKind.ERROR and not any(
                    ctx.wants(s) for s in session_sections()
                ):
                    # A narrowed scan that opens no SQL session: the probe decides.
                    return TargetProblem(TargetStatus.UNREACHABLE, outcome.reason)
            else:
                facts.add(outcome)
        except EndpointError as exc:
            facts.mark_missing(TlsFacts.section, Gap(GapKind.ERROR, f"TLS probe: {exc}"))
        except Exception as exc:  # a probe bug must not cost the target its other verdicts
            reason = f"TLS probe failed: {type(exc).__name__}: {one_line(str(exc))}"
            facts.mark_missing(TlsFacts.section, Gap(GapKind.ERROR, reason))
        return None
