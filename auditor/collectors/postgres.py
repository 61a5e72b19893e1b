"""The PostgreSQL collector: one read-only session per target, shared by the session
collectors in `auditor.collectors.pg`, each of which fills one fact section."""

from __future__ import annotations

import re

import auditor.collectors.pg as pg_package
from auditor.collectors.base import CollectContext, Collector, TargetProblem
from auditor.collectors.pg.session import (
    ConnectFailed,
    PgSession,
    SessionCollector,
    safe_error_text,
)
from auditor.discovery import package_modules, subclasses_in
from auditor.facts import Facts, Gap, GapKind
from auditor.model import TargetStatus

# The session itself, not collectors.
SESSION_MODULES = ("session", "session_settings", "watchdog", "secret_text")
TLS_SECTION = "tls"  # auditor.tls.facts.TlsFacts.section (not imported: it pulls in sslyze)
# How the TLS probe words an endpoint that took the TCP connection but never answered, or
# never completed it: it waited its whole timeout there.
_PROBE_TIMED_OUT = re.compile(r"no answer (?:to the SSLRequest )?within (\d+(?:\.\d+)?) s")


def session_collectors() -> list[SessionCollector]:
    found: list[type[SessionCollector]] = []
    for module in package_modules(pg_package, skip=SESSION_MODULES):
        found.extend(subclasses_in(module, SessionCollector, "model"))
    return [cls() for cls in sorted(found, key=lambda c: (c.order, c.model.section))]


def session_sections() -> frozenset[str]:
    """The sections the SQL session fills: reading any of them means logging in."""
    return frozenset(sub.model.section for sub in session_collectors())


def probe_timed_out(ctx: CollectContext, facts: Facts) -> str | None:
    """The TLS probe's reason when it already waited the target's whole connect timeout for
    an answer and got none: the SQL session would wait the same time again for the same
    silence, doubling what one dead target costs the run. None when the probe got any answer,
    was refused quickly (connecting again is cheap), or used a shorter timeout of its own."""
    gap = facts.gaps.get(TLS_SECTION)
    if gap is None or not gap.reason.startswith("unreachable:"):
        return None
    waited = [float(s) for s in _PROBE_TIMED_OUT.findall(gap.reason)]
    attempts = gap.reason.count(";") + 1  # one clause per endpoint libpq would try
    if len(waited) < attempts or min(waited) < ctx.pg.connect_timeout_seconds:
        return None
    return gap.reason.removeprefix("unreachable:").strip()


class PostgresCollector(Collector):
    name = "postgres"
    order = 50

    def sections(self) -> frozenset[str]:
        return session_sections()

    def collect(self, ctx: CollectContext, facts: Facts) -> TargetProblem | None:
        # Only what the selected checks read (the runner records the rest as not collected).
        collectors = [sub for sub in session_collectors() if ctx.wants(sub.model.section)]
        silent = probe_timed_out(ctx, facts)
        if silent is not None:
            reason = (
                f"{silent} (the TLS probe waited the whole connect timeout; "
                "no SQL connection was attempted)"
            )
            for sub in collectors:
                facts.mark_missing(sub.model.section, Gap(GapKind.ERROR, f"unreachable: {reason}"))
            return TargetProblem(TargetStatus.UNREACHABLE, reason)
        try:
            session = PgSession.open(ctx)
        except ConnectFailed as exc:
            status = TargetStatus.UNREACHABLE if exc.unreachable else TargetStatus.ERROR
            for sub in collectors:
                gap = Gap(GapKind.ERROR, f"{exc.what}: {exc.reason}")
                facts.mark_missing(sub.model.section, gap)
            return TargetProblem(status, exc.reason)
        try:
            for sub in collectors:
                if session.severed is not None:
                    # The server stopped answering: the rest would only wait again.
                    facts.mark_missing(sub.model.section, Gap(GapKind.ERROR, session.severed))
                    continue
                try:
                    facts.add(sub.collect(session, ctx))
                except Exception as exc:  # one sub-collector's failure never stops the rest
                    reason = session.severed or safe_error_text(exc)
                    facts.mark_missing(sub.model.section, Gap(GapKind.ERROR, reason))
        finally:
            session.close()
        if session.severed is not None:
            return TargetProblem(TargetStatus.ERROR, session.severed)
        return None
