"""One PostgreSQL server, all its databases: a `postgres` target with `databases: all` (or a
list, or `exclude_databases`) is scanned as one server plus one part per database.

* The server part is the target itself (results name it `prod-pg`): the TLS probe, pg_hba,
  settings, roles and the other server-wide checks run once (auditor/check_scope.py).
* Each database is a part named `prod-pg/appdb`: its own read-only session, the database
  checks only (columns, PII, code, the access log). The `/` keeps results, SARIF, diff and
  history keys unique without a new key field: a target that scans databases may not have a
  `/` in its name, and no other target may be named `prod-pg/...` (auditor/config.py).

Databases are listed from pg_database through one short session first. Templates and
databases that refuse connections (`datallowconn = false`) are skipped and recorded in the
server's inventory; a database the role may not CONNECT to, or a listed one that does not
exist, is a part with status `error` and one line saying why (its checks are not evaluated).
The server part and the databases run side by side (`database_workers` sessions at once), so
the TLS probe's wait overlaps the databases' reads.
"""

from __future__ import annotations

import fnmatch
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from auditor.check_scope import DATABASE, SCOPE_OPTION, SERVER, check_scope
from auditor.checks.base import Check
from auditor.collectors.base import CollectContext, Collector
from auditor.collectors.pg.session import one_line
from auditor.config import ConfigError, PostgresTarget, ScanConfig
from auditor.facts import Facts, TargetContext
from auditor.model import TargetOutcome, TargetStatus
from auditor.pg_ident import IdentError, column_spec, relation_name, sql_ident
from auditor.runner import Progress, TargetRun, evaluate, scan_target

LIST_DATABASES = """SELECT d.datname, d.datistemplate, d.datallowconn,
       pg_catalog.has_database_privilege(d.oid, 'CONNECT') AS may_connect
FROM pg_catalog.pg_database d ORDER BY d.datname"""


@dataclass(frozen=True)
class DatabaseRow:
    name: str
    template: bool
    allows_connections: bool
    may_connect: bool


@dataclass(frozen=True)
class Selection:
    """Which databases of the server are scanned, and why the others are not."""

    scanned: tuple[str, ...]
    skipped: dict[str, str]  # by design (template, no connections, excluded): not a problem
    refused: dict[str, str]  # asked for but not scannable: a part with status error

    def inventory(self) -> dict[str, Any]:
        return {
            "scanned": list(self.scanned),
            "skipped": dict(sorted(self.skipped.items())),
            "not_scanned": dict(sorted(self.refused.items())),
        }


def select_databases(target: PostgresTarget, rows: Iterable[DatabaseRow], role: str) -> Selection:
    found = {r.name: r for r in rows}
    asked: Sequence[str] = (
        list(found) if target.databases in (None, "all") else list(dict.fromkeys(target.databases))
    )
    scanned: list[str] = []
    skipped: dict[str, str] = {}
    refused: dict[str, str] = {}
    for name in asked:
        row = found.get(name)
        if row is None:
            refused[name] = "not scanned: no such database on this server"
        elif any(fnmatch.fnmatchcase(name, pattern) for pattern in target.exclude_databases):
            skipped[name] = "excluded by exclude_databases"
        elif row.template:
            skipped[name] = "template database"
        elif not row.allows_connections:
            skipped[name] = "does not allow connections (datallowconn = false)"
        elif not row.may_connect:
            refused[name] = (
                f"not scanned: role {role} may not connect to it (GRANT CONNECT ON DATABASE "
                f"{sql_ident(name)} TO {sql_ident(role)}; or list it in exclude_databases)"
            )
        else:
            scanned.append(name)
    return Selection(tuple(scanned), skipped, refused)


def dsn_for_database(dsn: str, database: str) -> str:
    """The target's URL with another database (path and any `dbname=` parameter)."""
    parts = urlsplit(dsn)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "dbname"]
    return urlunsplit(
        (parts.scheme, parts.netloc, "/" + quote(database, safe=""), urlencode(query), "")
    )


class ServerPart(PostgresTarget):
    """The target itself, judged by the server-wide checks only."""

    selection: dict[str, Any] = {}

    def context_options(self) -> dict[str, Any]:
        return {**super().context_options(), SCOPE_OPTION: SERVER, "databases": self.selection}


class DatabasePart(PostgresTarget):
    """One database of a server target, judged by the database checks only."""

    server: str
    database: str

    def context_options(self) -> dict[str, Any]:
        return {
            **super().context_options(),
            SCOPE_OPTION: DATABASE,
            "server": self.server,
            "database": self.database,
        }


def _fields(target: PostgresTarget) -> dict[str, Any]:
    fields = {name: getattr(target, name) for name in PostgresTarget.model_fields}
    return {**fields, "databases": None, "exclude_databases": ()}


def database_part(target: PostgresTarget, database: str) -> DatabasePart:
    return DatabasePart.model_validate(
        {
            **_fields(target),
            "name": f"{target.name}/{database}",
            "dsn": dsn_for_database(target.dsn, database),
            "server": target.name,
            "database": database,
        }
    )


class ListingFailed(Exception):
    def __init__(self, reason: str, unreachable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unreachable = unreachable


def list_databases(
    target: PostgresTarget,
    password: str | None,
    config_dir: Path,
    config: ScanConfig,
    deadline: float | None = None,
) -> tuple[list[DatabaseRow], str]:
    """Every database of the server and the role the scan logs in as, through one short
    read-only session (the same pinned session a scan uses)."""
    from auditor.collectors.pg.session import ConnectFailed, PgSession, safe_error_text

    ctx = CollectContext(
        target=target,
        password=password,
        config_dir=config_dir,
        policy=config.policy,
        deadline=deadline,
    )
    try:
        session = PgSession.open(ctx)
    except ConnectFailed as exc:
        raise ListingFailed(exc.reason, exc.unreachable) from None
    try:
        rows = session.rows(LIST_DATABASES)
        role = session.rows("SELECT current_user AS u")[0]["u"]
    except Exception as exc:
        raise ListingFailed(f"cannot list databases: {safe_error_text(exc)}", False) from None
    finally:
        session.close()
    return [
        DatabaseRow(
            name=str(r["datname"]),
            template=bool(r["datistemplate"]),
            allows_connections=bool(r["datallowconn"]),
            may_connect=bool(r["may_connect"]),
        )
        for r in rows
    ], str(role)


def _not_scanned(
    part: DatabasePart, reason: str, checks: list[Check], config: ScanConfig
) -> TargetRun:
    facts = Facts(target=TargetContext(part.name, part.kind, config.policy, part.context_options()))
    results = [c.errored(facts, f"target error: {reason}") for c in checks]
    outcome = TargetOutcome(
        part.name,
        part.kind,
        TargetStatus.ERROR,
        reason,
        server=part.server,
        database=part.database,
    )
    return TargetRun(outcome, results, facts)


def scan_server(
    target: PostgresTarget,
    config: ScanConfig,
    config_dir: Path,
    checks: list[Check],
    collectors: list[Collector],
    progress: Progress | None = None,
    narrowed: bool = False,
    deadline: float | None = None,
) -> TargetRun:
    """The server part's run with one `parts` entry per database (see the module
    docstring). Each part collects only what its checks read."""
    server_checks = [c for c in checks if check_scope(c) == SERVER]
    database_checks = [c for c in checks if check_scope(c) == DATABASE]
    try:
        password = target.resolve_password(config_dir)
        rows, role = list_databases(target, password, config_dir, config, deadline)
    except (ConfigError, ListingFailed) as exc:
        unreachable = isinstance(exc, ListingFailed) and exc.unreachable
        if not unreachable:
            # Login refused or no password: scanned as one target, as without `databases:`, so
            # the TLS probe still judges the server and every check says why it could not run.
            return scan_target(
                target, config, config_dir, checks, collectors, progress, narrowed, deadline
            )
        # Unreachable: the probe would only wait its whole timeout again.
        reason = exc.reason if isinstance(exc, ListingFailed) else str(exc)
        facts = Facts(
            target=TargetContext(target.name, target.kind, config.policy, target.context_options())
        )
        results = [c.errored(facts, f"target unreachable: {reason}") for c in checks]
        return TargetRun(
            TargetOutcome(target.name, target.kind, TargetStatus.UNREACHABLE, reason),
            results,
            facts,
        )
    selection = select_databases(target, rows, role)
    server = ServerPart.model_validate({**_fields(target), "selection": selection.inventory()})

    def one_database(name: str) -> TargetRun:
        part = database_part(target, name)
        events = None if progress is None else _prefixed(progress, target.name, name)
        try:
            run = scan_target(
                part, config, config_dir, database_checks, collectors, events, True, deadline
            )
        except Exception as exc:  # scan_target contains its failures; a bug costs one database
            reason = f"scan failed: {type(exc).__name__}: {one_line(str(exc))}"
            return _not_scanned(part, reason, database_checks, config)
        return replace(run, outcome=replace(run.outcome, server=target.name, database=name))

    def the_server() -> TargetRun:
        return scan_target(
            server, config, config_dir, server_checks, collectors, progress, True, deadline
        )

    wanted = selection.scanned if database_checks else ()
    runs = _in_parallel(
        [the_server, *(partial(one_database, name) for name in wanted)],
        1 + target.database_workers,
    )
    server_run, parts = runs[0], dict(zip(wanted, runs[1:], strict=True))
    _declared_where_present(parts, database_checks)
    if database_checks:
        for name, reason in selection.refused.items():
            part = database_part(target, name)
            parts[name] = _not_scanned(part, reason, database_checks, config)
    return replace(server_run, parts=tuple(parts[name] for name in sorted(parts)))


def _in_parallel(jobs: list[Callable[[], TargetRun]], workers: int) -> list[TargetRun]:
    """Each job's run, in order, `workers` at a time. Daemon threads, like the runner's
    workers: a job stuck past every timeout must not keep the process from exiting (the
    runner abandons this whole target when its budget runs out)."""
    todo: queue.Queue[int] = queue.Queue()
    for index in range(len(jobs)):
        todo.put(index)
    done: dict[int, TargetRun | BaseException] = {}

    def work() -> None:
        while True:
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done[index] = jobs[index]()
            except BaseException as exc:  # handed to the caller, which raises it
                done[index] = exc

    threads = [
        threading.Thread(target=work, name="auditor-database", daemon=True)
        for _ in range(min(workers, len(jobs)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ordered = [done[index] for index in range(len(jobs))]
    for run in ordered:
        if isinstance(run, BaseException):
            raise run
    return [run for run in ordered if not isinstance(run, BaseException)]


def _missing_table(problem: str) -> bool:
    return problem.startswith("table ") and problem.endswith(" not found")


def _declared_where_present(parts: dict[str, TargetRun], checks: list[Check]) -> None:
    """`sensitive_columns` apply to every database of a server target that has their table:
    in a database without it, a declared column found in another database is a skip naming
    where it is, not an error; one missing from every database stays an error (a typo)."""
    from auditor.collectors.pg.columns import ColumnFacts

    columns = {
        name: found
        for name, run in parts.items()
        if isinstance(found := run.facts.sections.get(ColumnFacts.section), ColumnFacts)
    }
    missing = {
        name: {item for item, why in c.declared_problems.items() if _missing_table(why)}
        for name, c in columns.items()
    }
    for name, c in columns.items():
        moved: dict[str, str] = {}
        for item in sorted(missing[name]):
            present = [db for db in sorted(columns) if item not in missing[db]]
            if present:
                moved[item] = (
                    "its table is not in this database (declared columns apply where their "
                    f"table exists; found in {', '.join(present)})"
                )
        if not moved:
            continue
        run = parts[name]
        kept = tuple(d for d in c.declared if _normalised(d) not in moved)
        problems = {k: v for k, v in c.declared_problems.items() if k not in moved}
        run.facts.add(
            c.model_copy(
                update={
                    "declared": kept,
                    "declared_problems": problems,
                    "declared_elsewhere": moved,
                }
            )
        )
        run.results = evaluate(run.facts, checks)


def _normalised(spec: str) -> str:
    try:
        return relation_name(*column_spec(spec))
    except IdentError:
        return spec


def _prefixed(progress: Progress, server: str, database: str) -> Progress:
    def report(_target: str, event: str) -> None:
        if event not in ("done", "timed out"):
            progress(server, f"{database}: {event}")

    return report
