"""The PostgreSQL collector: one read-only session per target, shared by the session
collectors in `auditor.collectors.pg`, each of which fills one fact section."""

from __future__ import annotations

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


def session_collectors() -> list[SessionCollector]:
    found: list[type[SessionCollector]] = []
    for module in package_modules(pg_package, skip=SESSION_MODULES):
        found.extend(subclasses_in(module, SessionCollector, "model"))
    return [cls() for cls in sorted(found, key=lambda c: (c.order, c.model.section))]


def session_sections() -> frozenset[str]:
    """The sections the SQL session fills: reading any of them means logging in."""
    return frozenset(sub.model.section for sub in session_collectors())


class PostgresCollector(Collector):
    name = "postgres"
    order = 50

    def sections(self) -> frozenset[str]:
        return session_sections()

    def collect(self, ctx: CollectContext, facts: Facts) -> TargetProblem | None:
        # Only what the selected checks read (the runner records the rest as not collected).
        collectors = [sub for sub in session_collectors() if ctx.wants(sub.model.section)]
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
