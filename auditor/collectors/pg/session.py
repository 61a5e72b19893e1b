"""The read-only, bounded PostgreSQL session a scan uses, and the sub-collector interface.

The scanned database's owner is not trusted. Everything that shapes how the scanner's SQL is
resolved or run is pinned in the startup packet (`options=-c ...`): PostgreSQL applies those
with a higher priority than any `ALTER DATABASE/ROLE ... SET`, so an owner cannot put a
shadowing `evil.left()` first on the search path, turn read-only off, lift the timeouts, switch
the session to another role or preload a library. After login the pinned values are read back
(`SHOW`, a built-in command no function can shadow) and the session is refused if a pooler or
anything else dropped them. The scanner's own SQL is schema-qualified as a second line of
defence. PostgreSQL 15 has no login event trigger, and DDL event triggers never fire for the
reads a scan sends, so no code of the owner's runs at login either.

Every statement runs in its own read-only transaction (autocommit with
`default_transaction_read_only=on`) so that a refused query (missing privilege) does not
poison the ones after it. `statement_timeout` and `lock_timeout` bound its cost on the server;
a client-side watchdog bounds it on this side, for a server (or a proxy in front of it) that
stops answering, which no server setting can bound: it cancels the statement, then shuts the
socket so the waiting thread gets an error instead of waiting forever.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any, ClassVar

import psycopg
from psycopg import errors as pgerrors
from psycopg import pq
from psycopg.abc import AdaptContext, Buffer
from psycopg.adapt import Loader
from psycopg.rows import dict_row

from auditor.collectors.base import CollectContext
from auditor.collectors.pg.secret_text import dsn_secrets, scrub
from auditor.collectors.pg.session_settings import (
    PINNED_SEARCH_PATH,
    expected_show,
    login_sslmode,
    pinned_settings,
    startup_options,
)
from auditor.collectors.pg.watchdog import StatementTimedOut, Watchdog
from auditor.config import PostgresTarget
from auditor.facts import FactSection

APPLICATION_NAME = "auditor"
KEEPALIVE_IDLE_SECONDS = 10
KEEPALIVE_INTERVAL_SECONDS = 5
KEEPALIVE_COUNT = 3
# Time the server gets beyond `statement_timeout` to deliver an answer before the watchdog
# decides it has stopped answering (the result still has to cross the network).
MIN_ANSWER_GRACE_SECONDS = 2.0


class ConnectFailed(Exception):
    def __init__(self, reason: str, unreachable: bool, what: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unreachable = unreachable
        # How the gaps of the sections it cost are labelled ("unreachable: ...").
        self.what = what or ("unreachable" if unreachable else "login failed")


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


def explain_connect_error(exc: Exception, secrets: Iterable[str | None] = ()) -> ConnectFailed:
    text = scrub(one_line(str(exc)), secrets)
    # libpq prefixes every attempt with 'connection to server at "h" (ip), port p failed:';
    # keep the last attempt's reason, which is the informative part.
    parts = re.split(r"connection to server (?:at|on) [^,]+(?:, port \d+)? failed: ", text)
    reason = one_line(parts[-1].removeprefix("FATAL: ").strip()) or text
    reason = reason.replace(
        "Is the server running on that host and accepting TCP/IP connections?", ""
    ).strip()
    unreachable = any(marker in text.lower() for marker in _UNREACHABLE)
    return ConnectFailed(reason, unreachable)


class _ReplacingTextLoader(Loader):
    """Text decoded with U+FFFD for bytes the encoding cannot explain, instead of an exception.
    A role or database named from a SQL_ASCII database reaches every other database's shared
    catalogs with the same bytes, so even a UTF8 database can hand out text that is not UTF-8.
    (A SQL_ASCII database's own session is read as LATIN1, see `_read_sql_ascii_as_latin1`.)"""

    def __init__(self, oid: int, context: AdaptContext | None = None) -> None:
        super().__init__(oid, context)
        conn = self.connection
        self._encoding = conn.info.encoding if conn is not None else "utf-8"

    def load(self, data: Buffer) -> str:
        return bytes(data).decode(self._encoding, errors="replace")


class _ReplacingBinaryTextLoader(_ReplacingTextLoader):
    """The same for text read in binary format (column sampling reads its values so)."""

    format = pq.Format.BINARY


_TEXT_TYPES = ("text", "varchar", "bpchar", "name", '"char"')


def _read_sql_ascii_as_latin1(session: PgSession) -> None:
    """A SQL_ASCII database holds bytes in no declared encoding. Read as UTF8 the server
    refuses to send what is not valid UTF-8; read as SQL_ASCII psycopg hands out bytes and
    cannot send a name that is not ASCII. LATIN1 maps every byte to one character and back,
    so names and values are always text and a name read can be sent back to name the same
    object (UTF-8 names then show as Latin-1 look-alikes, e.g. 'cafÃ©')."""
    if session.conn.info.parameter_status("server_encoding") == "SQL_ASCII":
        session.rows("SET client_encoding TO 'LATIN1'")


def _decode_leniently(conn: psycopg.Connection[Any]) -> None:
    conn.adapters.register_loader(0, _ReplacingTextLoader)  # 0: type unknown
    for name in _TEXT_TYPES:
        conn.adapters.register_loader(name, _ReplacingTextLoader)
        conn.adapters.register_loader(name, _ReplacingBinaryTextLoader)


class PgSession:
    """A thin wrapper: rows as dicts, privilege failures turned into values, every statement
    bounded on the client side too."""

    def __init__(
        self,
        conn: psycopg.Connection[dict[str, Any]],
        answer_seconds: float,
        deadline: float | None = None,
    ) -> None:
        self.conn = conn
        self.answer_seconds = answer_seconds  # client-side bound on one statement
        self.deadline = deadline  # time.monotonic() by which the whole target must be done
        self.severed: str | None = None  # why the watchdog closed the connection, once it did
        self._watchdog = Watchdog(conn)

    @classmethod
    def open(cls, ctx: CollectContext) -> PgSession:
        target = ctx.pg
        kwargs: dict[str, Any] = {
            "connect_timeout": max(1, round(target.connect_timeout_seconds)),
            "application_name": APPLICATION_NAME,
            "options": startup_options(target),
            "sslmode": login_sslmode(target),
            # Whatever the database's default; a SQL_ASCII database switches to LATIN1 below.
            "client_encoding": "UTF8",
            "autocommit": True,
            "row_factory": dict_row,
        }
        # A dead peer is noticed by the kernel (unacknowledged data, silent links), unless
        # the DSN says otherwise.
        network = {
            "tcp_user_timeout": round(target.connect_timeout_seconds * 1000),
            "keepalives": 1,
            "keepalives_idle": KEEPALIVE_IDLE_SECONDS,
            "keepalives_interval": KEEPALIVE_INTERVAL_SECONDS,
            "keepalives_count": KEEPALIVE_COUNT,
        }
        given = target.dsn_parts["params"]
        kwargs.update({k: v for k, v in network.items() if k not in given})
        kwargs.update(target.file_params(ctx.config_dir))
        if ctx.password is not None:
            kwargs["password"] = ctx.password
        try:
            conn = psycopg.connect(target.dsn, **kwargs)
        except (psycopg.Error, ValueError) as exc:
            raise explain_connect_error(exc, [ctx.password, *dsn_secrets(target.dsn)]) from None
        _decode_leniently(conn)
        answer = target.statement_timeout_ms / 1000 + max(
            MIN_ANSWER_GRACE_SECONDS, target.connect_timeout_seconds
        )
        session = cls(conn, answer, ctx.deadline)
        try:
            _read_sql_ascii_as_latin1(session)
            session.verify_pinned(target)
        except ConnectFailed:
            session.close()
            raise
        except StatementTimedOut as exc:
            session.close()
            raise ConnectFailed(str(exc), False, what="no answer") from None
        except Exception as exc:
            session.close()
            reason = f"could not verify the session: {safe_error_text(exc)}"
            raise ConnectFailed(reason, False) from None
        return session

    def verify_pinned(self, target: PostgresTarget) -> None:
        """Refuse a session in which a pinned setting did not hold (a pooler that drops startup
        options, a server that ignores them): its SQL could run the owner's functions."""
        pinned = pinned_settings(target)
        # One round trip; SHOW is a built-in command no function can stand in for.
        answers = self.result_sets("; ".join(f"SHOW {name}" for name in pinned))
        for (name, sent), answer in zip(pinned.items(), answers, strict=True):
            shown = next(iter(answer[0].values())) if answer else None
            want = expected_show(name, sent)
            if name == "search_path":
                shown_path = tuple(p.strip().strip('"') for p in str(shown).split(","))
                ok = shown_path == PINNED_SEARCH_PATH
            else:
                ok = shown == want
            if not ok:
                raise ConnectFailed(
                    f"refusing to scan: the session's {name} is {one_line(str(shown), 80)!r}, "
                    f"not {want!r} as requested at login (a pooler dropping startup options?)",
                    False,
                    what="session refused",
                )
        # The path in effect: nothing but pg_catalog and this session's temporary schema.
        schemas = self.value("SELECT pg_catalog.current_schemas(true)") or []
        extra = [s for s in schemas if s != "pg_catalog" and not str(s).startswith("pg_temp_")]
        if extra:
            raise ConnectFailed(
                f"refusing to scan: schemas {extra!r} are on the session's search path",
                False,
                what="session refused",
            )

    def close(self) -> None:
        self._watchdog.stop()
        self.conn.close()

    def rows(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        return self.result_sets(sql, params)[0]

    def result_sets(self, sql: str, params: Any = None) -> list[list[dict[str, Any]]]:
        """The rows of each statement in `sql` (several only without parameters), the whole
        exchange bounded by the watchdog."""
        if self.severed is not None:
            raise StatementTimedOut(self.severed)
        now = time.monotonic()
        deadline = now + self.answer_seconds
        if self.deadline is not None:
            if now >= self.deadline:
                self.severed = "the target's time budget ran out"
                raise StatementTimedOut(self.severed)
            deadline = min(deadline, self.deadline)
        self._watchdog.arm(deadline)
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, params)
                found: list[list[dict[str, Any]]] = []
                while True:
                    found.append(list(cur.fetchall()) if cur.description is not None else [])
                    if not cur.nextset():
                        return found
        except psycopg.OperationalError:
            if self._watchdog.fired:
                self.severed = (
                    f"timed out: no answer from the server within {deadline - now:.0f} s "
                    "(connection closed)"
                )
                raise StatementTimedOut(self.severed) from None
            raise
        finally:
            self._watchdog.disarm()

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
