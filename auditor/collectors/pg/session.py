"""The read-only, gentle PostgreSQL session a scan uses, and the sub-collector interface.

Every statement runs in its own read-only transaction (autocommit with
`default_transaction_read_only=on`) so that a refused query (missing privilege) does not
poison the ones after it, with `statement_timeout` and `lock_timeout` bounding its cost.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import psycopg
from psycopg import errors as pgerrors
from psycopg.rows import dict_row

from auditor.collectors.base import CollectContext
from auditor.facts import FactSection

APPLICATION_NAME = "auditor"
LOCK_TIMEOUT_MS = 1000


class ConnectFailed(Exception):
    def __init__(self, reason: str, unreachable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unreachable = unreachable


_UNREACHABLE = (
    "connection refused",
    "timeout expired",
    "could not translate host name",
    "no route to host",
    "network is unreachable",
    "name or service not known",
    "server closed the connection unexpectedly",
)


def one_line(message: str, limit: int = 300) -> str:
    text = re.sub(r"\s+", " ", message).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def safe_error_text(exc: BaseException) -> str:
    """A one-line description of an error raised while reading the database.

    Data exceptions (SQLSTATE class 22) quote the offending value, which may be personal data
    or a key: for those only the class and SQLSTATE are kept.
    """
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate or ""
        if state.startswith("22"):
            return f"{type(exc).__name__} (SQLSTATE {state})"
        primary = exc.diag.message_primary or str(exc)
        return f"{type(exc).__name__}: {one_line(primary)}"
    return f"{type(exc).__name__}: {one_line(str(exc))}"


def explain_connect_error(exc: Exception) -> ConnectFailed:
    text = one_line(str(exc))
    # libpq prefixes every attempt with 'connection to server at "h" (ip), port p failed:';
    # keep the last attempt's reason, which is the informative part.
    parts = re.split(r"connection to server (?:at|on) [^,]+(?:, port \d+)? failed: ", text)
    reason = one_line(parts[-1].removeprefix("FATAL: ").strip()) or text
    reason = reason.replace(
        "Is the server running on that host and accepting TCP/IP connections?", ""
    ).strip()
    unreachable = any(marker in text.lower() for marker in _UNREACHABLE)
    return ConnectFailed(reason, unreachable)


class PgSession:
    """A thin wrapper: rows as dicts, and privilege failures turned into values."""

    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.conn = conn

    @classmethod
    def open(cls, ctx: CollectContext) -> PgSession:
        target = ctx.pg
        options = (
            "-c default_transaction_read_only=on "
            f"-c statement_timeout={target.statement_timeout_ms} "
            f"-c lock_timeout={LOCK_TIMEOUT_MS} "
            "-c idle_in_transaction_session_timeout=60000"
        )
        kwargs: dict[str, Any] = {
            "connect_timeout": max(1, round(target.connect_timeout_seconds)),
            "application_name": APPLICATION_NAME,
            "options": options,
            "autocommit": True,
            "row_factory": dict_row,
        }
        kwargs.update(target.file_params(ctx.config_dir))
        if ctx.password is not None:
            kwargs["password"] = ctx.password
        try:
            conn = psycopg.connect(target.dsn, **kwargs)
        except (psycopg.Error, ValueError) as exc:
            raise explain_connect_error(exc) from None
        return cls(conn)

    def close(self) -> None:
        self.conn.close()

    def rows(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())

    def value(self, sql: str, params: Any = None) -> Any:
        found = self.rows(sql, params)
        return next(iter(found[0].values())) if found else None

    def rows_or_none(self, sql: str, params: Any = None) -> list[dict[str, Any]] | None:
        """Rows, or None when the role lacks the privilege (the caller records the gap)."""
        try:
            return self.rows(sql, params)
        except pgerrors.InsufficientPrivilege:
            return None


class SessionCollector:
    """Fills one fact section from the shared session. Raise to report an error."""

    model: ClassVar[type[FactSection]]
    order: ClassVar[int] = 50

    def collect(self, session: PgSession, ctx: CollectContext) -> FactSection:
        raise NotImplementedError
