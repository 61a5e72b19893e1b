"""The history store: runs, targets, findings and evidence digests in SQLite or PostgreSQL
through SQLAlchemy Core, the schema migrated (Alembic) every time a store is opened.

Safe under concurrent writers: every shard of a run writes its own targets in one
transaction; the shared `runs` row is created with INSERT … ON CONFLICT DO NOTHING and then
widened (earliest start, latest finish), which row-locks it, so shards commit one after the
other on PostgreSQL. On SQLite every transaction starts with BEGIN IMMEDIATE (one writer at
a time, the others wait up to a minute) and the file runs in WAL mode. Migrations run under a
PostgreSQL advisory lock (or SQLite's write lock), so eight shards opening a fresh database
at once upgrade it once.

What is stored is the redacted results (auditor.redact), never more: no secret or sampled
value reaches the history.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from auditor.model import (
    ControlRef,
    Result,
    ScanResults,
    Severity,
    Status,
    TargetOutcome,
    TargetStatus,
)
from auditor.redact import redact_results, redact_text
from auditor.shards import Shard
from auditor.store import schema as t
from auditor.store.location import StoreLocation, parse_location

_MIGRATION_LOCK = 0x61756469746F72  # "auditor": the advisory lock key for migrations
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class StoreError(Exception):
    """The history database could not be used; one line, no password."""


def parse_time(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sha256_json(value: Any) -> str:
    body = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class RunInfo:
    id: str
    started_at: dt.datetime
    finished_at: dt.datetime
    tool_version: str
    shard_count: int
    shards_recorded: int
    targets: int
    failures: int

    @property
    def complete(self) -> bool:
        return self.shards_recorded >= self.shard_count

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "tool_version": self.tool_version,
            "shards": {"expected": self.shard_count, "recorded": self.shards_recorded},
            "targets": self.targets,
            "failures": self.failures,
        }


_SQLITE_WAIT_S = 60.0  # how long a writer waits for another (busy_timeout and the WAL switch)


def _switch_to_wal(cursor: Any) -> None:
    """`PRAGMA journal_mode = WAL`, retried while another connection holds the write lock.

    On a file still in rollback mode (a new store), the switch reads page 1 and then upgrades
    to a write lock; SQLite does not call the busy handler for that upgrade (it could
    deadlock), so when another process is switching or writing at that instant the pragma
    fails at once with "database is locked" whatever busy_timeout says. Eight shards opening
    a new store together hit it now and then; waiting and retrying is what busy_timeout would
    have done. Once the file is in WAL mode the pragma only reads the mode: no such upgrade.
    """
    deadline = time.monotonic() + _SQLITE_WAIT_S
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause * (0.5 + random.random()))  # jitter: the racers do not retry in step
        pause = min(pause * 2, 0.2)


def _sqlite_engine(location: StoreLocation) -> Engine:
    engine = create_engine(location.url, poolclass=None)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transactions out of the sqlite3 module's hands: BEGIN IMMEDIATE below.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        # Concurrent shards wait for each other's write transaction, not fail.
        cursor.execute(f"PRAGMA busy_timeout = {int(_SQLITE_WAIT_S * 1000)}")
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _one_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return redact_text(lines[0] if lines else type(orig).__name__)


class HistoryDB:
    """One opened, migrated history store."""

    def __init__(self, location: StoreLocation) -> None:
        self.location = location
        try:
            if location.is_sqlite:
                self.engine = _sqlite_engine(location)
            else:
                self.engine = create_engine(
                    location.url, connect_args={"connect_timeout": 10}, pool_pre_ping=True
                )
            self._migrate()
        except SQLAlchemyError as exc:
            raise StoreError(f"history {location.label}: {_one_line(exc)}") from None

    @classmethod
    def open(cls, value: str) -> HistoryDB:
        return cls(parse_location(value))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> HistoryDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"history {self.location.label}: {_one_line(exc)}") from None

    # -- schema ----------------------------------------------------------------------------

    def _migrate(self) -> None:
        from alembic import command
        from alembic.config import Config
        from alembic.util import CommandError

        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            config.attributes["connection"] = conn
            try:
                command.upgrade(config, "head")
            except CommandError as exc:
                raise StoreError(
                    f"history {self.location.label}: cannot migrate the schema ({exc}); a "
                    "newer auditor may have written it"
                ) from None

    def schema_revision(self) -> str | None:
        with self._tx() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    # -- writing ---------------------------------------------------------------------------

    def _insert_ignore(self, table: Any) -> Any:
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        return dialect.insert(table).on_conflict_do_nothing()

    def save(
        self,
        results: ScanResults,
        shard: Shard | None = None,
        evidence: dict[str, tuple[str, int]] | None = None,
    ) -> None:
        """Write this process's part of a run: its targets (replacing what an earlier attempt
        of the same shard wrote for them), their findings, scope and evidence digests."""
        results = _scrubbed(redact_results(results))
        shard = shard or Shard()
        started, finished = parse_time(results.started_at), parse_time(results.finished_at)
        names = [o.name for o in results.targets]
        with self._tx() as conn:
            conn.execute(
                self._insert_ignore(t.runs).values(
                    id=results.run_id,
                    started_at=started,
                    finished_at=finished,
                    tool_version=results.tool_version,
                    config_digest=results.config_digest,
                    shard_count=shard.count,
                    metadata=results.run_metadata,
                    recorded_at=dt.datetime.now(dt.UTC),
                )
            )
            # Widen the run to every shard's time span; this row lock orders the shards.
            conn.execute(
                t.runs.update()
                .where(t.runs.c.id == results.run_id)
                .values(
                    started_at=case(
                        (t.runs.c.started_at > started, started), else_=t.runs.c.started_at
                    ),
                    finished_at=case(
                        (t.runs.c.finished_at < finished, finished), else_=t.runs.c.finished_at
                    ),
                )
            )
            for table in (t.findings, t.run_targets, t.evidence_digests):
                for chunk in _chunks(names, 500):
                    conn.execute(
                        delete(table).where(
                            and_(table.c.run_id == results.run_id, table.c.target.in_(chunk))
                        )
                    )
            conn.execute(
                delete(t.run_shards).where(
                    and_(
                        t.run_shards.c.run_id == results.run_id, t.run_shards.c.shard == shard.index
                    )
                )
            )
            conn.execute(
                insert(t.run_shards).values(
                    run_id=results.run_id,
                    shard=shard.index,
                    shard_count=shard.count,
                    started_at=started,
                    finished_at=finished,
                    results_sha256=_results_digest(results),
                    attestation=results.attestation,
                )
            )
            if results.scope:
                conn.execute(
                    self._insert_ignore(t.run_scope),
                    [{"run_id": results.run_id, "check_id": c} for c in results.scope],
                )
            if results.targets:
                conn.execute(
                    insert(t.run_targets),
                    [
                        {
                            "run_id": results.run_id,
                            "target": o.name,
                            "kind": o.kind,
                            "status": o.status.value,
                            "error": o.error,
                            "declared_at": o.declared_at,
                            "inventory": o.inventory,
                            "shard": shard.index,
                        }
                        for o in results.targets
                    ],
                )
            rows = [_finding_row(results.run_id, i, f) for i, f in enumerate(results.findings)]
            for chunk in _chunks(rows, 1000):
                conn.execute(insert(t.findings), chunk)
            if evidence:
                conn.execute(
                    insert(t.evidence_digests),
                    [
                        {
                            "run_id": results.run_id,
                            "target": name,
                            "kind": "facts",
                            "sha256": sha,
                            "size": size,
                        }
                        for name, (sha, size) in evidence.items()
                        if name in names
                    ],
                )

    def prune(self, keep_days: int, now: dt.datetime | None = None) -> int:
        """Delete runs that finished more than `keep_days` days ago; return how many."""
        cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=keep_days)
        with self._tx() as conn:
            old = [
                r[0] for r in conn.execute(select(t.runs.c.id).where(t.runs.c.finished_at < cutoff))
            ]
            for chunk in _chunks(old, 500):
                # Children first: SQLite enforces ON DELETE CASCADE only with foreign_keys on,
                # and an external tool's connection may not have it.
                for table in (
                    t.findings,
                    t.run_targets,
                    t.evidence_digests,
                    t.run_scope,
                    t.run_shards,
                ):
                    conn.execute(delete(table).where(table.c.run_id.in_(chunk)))
                conn.execute(delete(t.runs).where(t.runs.c.id.in_(chunk)))
        return len(old)

    # -- reading ---------------------------------------------------------------------------

    def runs(
        self, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> list[RunInfo]:
        """Runs oldest first (by start), optionally those finished within [since, until]."""
        shards = (
            select(t.run_shards.c.run_id, func.count().label("n"))
            .group_by(t.run_shards.c.run_id)
            .subquery()
        )
        targets = (
            select(t.run_targets.c.run_id, func.count().label("n"))
            .group_by(t.run_targets.c.run_id)
            .subquery()
        )
        fails = (
            select(t.findings.c.run_id, func.count().label("n"))
            .where(t.findings.c.status == Status.FAIL.value)
            .group_by(t.findings.c.run_id)
            .subquery()
        )
        query = (
            select(
                t.runs.c.id,
                t.runs.c.started_at,
                t.runs.c.finished_at,
                t.runs.c.tool_version,
                t.runs.c.shard_count,
                func.coalesce(shards.c.n, 0),
                func.coalesce(targets.c.n, 0),
                func.coalesce(fails.c.n, 0),
            )
            .outerjoin(shards, shards.c.run_id == t.runs.c.id)
            .outerjoin(targets, targets.c.run_id == t.runs.c.id)
            .outerjoin(fails, fails.c.run_id == t.runs.c.id)
            .order_by(t.runs.c.started_at, t.runs.c.id)
        )
        if since is not None:
            query = query.where(t.runs.c.finished_at >= since)
        if until is not None:
            query = query.where(t.runs.c.finished_at <= until)
        with self._tx() as conn:
            return [RunInfo(*row) for row in conn.execute(query)]

    def find(self, run: str) -> str:
        """A run id from its full id or a unique prefix; StoreError otherwise."""
        with self._tx() as conn:
            exact = conn.execute(select(t.runs.c.id).where(t.runs.c.id == run)).scalar()
            if exact is not None:
                return str(exact)
            hits = (
                [
                    r[0]
                    for r in conn.execute(
                        select(t.runs.c.id)
                        .where(t.runs.c.id.startswith(run, autoescape=True))
                        .limit(2)
                    )
                ]
                if run
                else []
            )
        if len(hits) != 1:
            problem = "no run" if not hits else "several runs"
            raise StoreError(f"history {self.location.label}: {problem} matching {run!r}")
        return str(hits[0])

    def load(self, run_id: str) -> ScanResults:
        """The run as results: every shard's targets and findings merged."""
        with self._tx() as conn:
            run = conn.execute(select(t.runs).where(t.runs.c.id == run_id)).one_or_none()
            if run is None:
                raise StoreError(f"history {self.location.label}: no run {run_id!r}")
            scope = sorted(
                r[0]
                for r in conn.execute(
                    select(t.run_scope.c.check_id).where(t.run_scope.c.run_id == run_id)
                )
            )
            targets = conn.execute(
                select(t.run_targets)
                .where(t.run_targets.c.run_id == run_id)
                .order_by(t.run_targets.c.shard, t.run_targets.c.target)
            ).all()
            found = conn.execute(
                select(t.findings)
                .where(t.findings.c.run_id == run_id)
                .order_by(
                    t.findings.c.target,
                    t.findings.c.check_id,
                    t.findings.c.resource,
                    t.findings.c.ordinal,
                )
            ).all()
            shards = conn.execute(
                select(t.run_shards.c.attestation).where(t.run_shards.c.run_id == run_id)
            ).all()
        finished = run.finished_at
        return ScanResults(
            run_id=run.id,
            started_at=iso(run.started_at),
            finished_at=iso(finished),
            targets=tuple(
                TargetOutcome(
                    o.target, o.kind, TargetStatus(o.status), o.error, o.declared_at, o.inventory
                )
                for o in targets
            ),
            findings=tuple(_finding_from_row(f, finished) for f in found),
            tool_version=run.tool_version,
            config_digest=run.config_digest,
            scope=tuple(scope) if scope else None,
            run_metadata=run.metadata,
            # A signature covers one process's results; a merged run of several has none.
            attestation=shards[0][0] if len(shards) == 1 and run.shard_count == 1 else None,
        )

    def latest(self) -> ScanResults | None:
        runs = self.runs()
        return self.load(runs[-1].id) if runs else None

    def latest_comparable(
        self, results: ScanResults, before: dt.datetime | None = None
    ) -> ScanResults | None:
        """The newest run started before `before` (default: before `results` started), other
        than `results` itself, sharing at least one check and one target with it."""
        from auditor.diff import comparable

        limit = before or parse_time(results.started_at)
        for info in reversed(self.runs()):
            if info.id == results.run_id or info.started_at >= limit:
                continue
            old = self.load(info.id)
            if comparable(old, results):
                return old
        return None

    def target_history(
        self, target: str, before: dt.datetime, exclude_run: str
    ) -> Iterator[tuple[str, dt.datetime, str, set[str], list[Any]]]:
        """Earlier runs of one target, newest first: (run id, started, target status, scope,
        finding rows of that target) — read one run at a time, as the caller needs them."""
        with self._tx() as conn:
            earlier = conn.execute(
                select(t.runs.c.id, t.runs.c.started_at, t.run_targets.c.status)
                .join(t.run_targets, t.run_targets.c.run_id == t.runs.c.id)
                .where(
                    and_(
                        t.run_targets.c.target == target,
                        t.runs.c.started_at < before,
                        t.runs.c.id != exclude_run,
                    )
                )
                .order_by(t.runs.c.started_at.desc())
            ).all()
        for run_id, started, status in earlier:
            with self._tx() as conn:
                scope = {
                    r[0]
                    for r in conn.execute(
                        select(t.run_scope.c.check_id).where(t.run_scope.c.run_id == run_id)
                    )
                }
                rows = conn.execute(
                    select(
                        t.findings.c.check_id,
                        t.findings.c.resource,
                        t.findings.c.status,
                        t.findings.c.first_seen,
                        t.findings.c.first_seen_run,
                    ).where(and_(t.findings.c.run_id == run_id, t.findings.c.target == target))
                ).all()
            yield run_id, started, status, scope, list(rows)


def _no_nul(value: Any) -> Any:
    """PostgreSQL text and jsonb refuse NUL characters, which a hostile server's names or a
    certificate field can carry: they are stored as U+FFFD (on SQLite too, so both stores
    hold the same text)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {_no_nul(k): _no_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_nul(v) for v in value]
    return value


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _scrubbed(results: ScanResults) -> ScanResults:
    """Results without NUL characters (see _no_nul), checked cheaply first."""
    if "\\u0000" not in json.dumps(_results_digest_view(results), default=str):
        return results
    return replace(
        results,
        targets=tuple(
            replace(
                o,
                name=_no_nul(o.name),
                error=_no_nul(o.error),
                declared_at=_no_nul(o.declared_at),
                inventory=_no_nul(o.inventory),
            )
            for o in results.targets
        ),
        findings=tuple(
            replace(
                f,
                target=_no_nul(f.target),
                resource=_no_nul(f.resource),
                title=_no_nul(f.title),
                message=_no_nul(f.message),
                remediation=_no_nul(f.remediation),
                evidence=_no_nul(f.evidence),
            )
            for f in results.findings
        ),
        run_metadata=_no_nul(results.run_metadata),
    )


def _results_digest_view(results: ScanResults) -> Any:
    return [
        [(o.name, o.error, o.declared_at, o.inventory) for o in results.targets],
        [
            (f.target, f.resource, f.title, f.message, f.remediation, f.evidence)
            for f in results.findings
        ],
        results.run_metadata,
    ]


def _results_digest(results: ScanResults) -> str:
    from auditor.formatters.json_results import finding_to_dict

    return _sha256_json(
        {
            "run": results.run_id,
            "targets": [o.name for o in results.targets],
            "findings": [finding_to_dict(f) for f in results.findings],
        }
    )


def _finding_row(run_id: str, ordinal: int, f: Result) -> dict[str, Any]:
    life = f.lifecycle or {}
    first = life.get("first_seen")
    return {
        "run_id": run_id,
        "target": f.target,
        "check_id": f.check_id,
        "resource": f.resource or "",
        "ordinal": ordinal,
        "status": f.status.value,
        "severity": f.severity.value,
        "title": f.title,
        "message": f.message,
        "remediation": f.remediation,
        "evidence": f.evidence,
        "evidence_sha256": _sha256_json(f.evidence),
        "controls": [{"framework": c.framework, "id": c.id} for c in f.controls],
        "first_seen": parse_time(first) if isinstance(first, str) else None,
        "first_seen_run": life.get("first_seen_run"),
    }


def _finding_from_row(row: Any, finished: dt.datetime) -> Result:
    lifecycle = None
    if row.first_seen is not None:
        lifecycle = {
            "first_seen": iso(row.first_seen),
            "first_seen_run": row.first_seen_run,
            "last_seen": iso(finished),
            "age_days": max(0, (finished - row.first_seen).days),
        }
    return Result(
        check_id=row.check_id,
        target=row.target,
        status=Status(row.status),
        severity=Severity(row.severity),
        title=row.title,
        message=row.message,
        resource=row.resource or None,
        evidence=dict(row.evidence or {}),
        remediation=row.remediation,
        controls=tuple(ControlRef(c["framework"], c["id"]) for c in row.controls or []),
        lifecycle=lifecycle,
    )


def with_lifecycle(results: ScanResults, store: HistoryDB) -> ScanResults:
    """Results whose failures say since when they have been failing (auditor/store/lifecycle)."""
    from auditor.store.lifecycle import first_seen

    found = first_seen(results, store)
    finished = parse_time(results.finished_at)
    this_run = (parse_time(results.started_at), results.run_id)
    out = []
    for f in results.findings:
        if f.status in (Status.FAIL, Status.WAIVED):
            moment, run = found.get((f.target, f.check_id, f.resource or ""), this_run)
            f = replace(
                f,
                lifecycle={
                    "first_seen": iso(moment),
                    "first_seen_run": run,
                    "last_seen": iso(finished),
                    "age_days": max(0, (finished - moment).days),
                },
            )
        out.append(f)
    return replace(results, findings=tuple(out))
