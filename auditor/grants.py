"""The SQL that sets up a least-privilege scanning role, in two profiles:

* `monitoring` (default): `pg_monitor`, read access to the pg_hba and configuration-file
  views, and SELECT on the declared sensitive tables;
* `discovery`: the same plus `pg_read_all_data` and `BYPASSRLS`, so PII discovery reads every
  row of every table rather than what grants and row-level security let it see.

Every name (role, database, schema, table, target) is data: identifiers are quoted as
PostgreSQL's sql_ident() does, literals as sql_literal(), psql arguments in psql's literal
form, and comments built from names are one sanitised line.

Generated text only (no connection): the operator reviews it and runs it with psql. The
password is never part of it; `\\password` sets it interactively.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from auditor.collectors.pg.server import GRANT_FILE_SETTINGS, GRANT_HBA_RULES, GRANT_MONITOR
from auditor.config import PostgresTarget, ScanConfig
from auditor.grant_profiles import DISCOVERY as DISCOVERY
from auditor.grant_profiles import MONITORING as MONITORING
from auditor.grant_profiles import PROFILES as PROFILES
from auditor.pg_ident import IdentError, column_spec, sql_ident, sql_literal, sql_qualified
from auditor.safe_text import psql_argument, sql_comment

DEFAULT_ROLE = "auditor"
# Pseudo-roles and keywords a grant must never target.
_FORBIDDEN_ROLES = frozenset({"public", "none", "current_user", "session_user", "current_role"})


class GrantsError(Exception):
    """A one-line reason the SQL cannot be produced (bad role name, bad column spec)."""


def _dollar_quoted(body: str) -> str:
    """`body` between dollar quotes whose tag it does not contain (a role named `$$` must not
    end the block early)."""
    tag, n = "$auditor$", 0
    while tag in body:
        n += 1
        tag = f"$auditor{n}$"
    return f"{tag}\n{body}\n{tag}"


def check_role_name(role: str) -> str:
    if not role or len(role.encode()) > 63:
        raise GrantsError(f"role name {role!r} must be 1 to 63 bytes long")
    if role.lower() in _FORBIDDEN_ROLES or role.lower().startswith("pg_"):
        raise GrantsError(f"role name {role!r} is reserved; choose a dedicated scanning role")
    if "\0" in role:
        raise GrantsError("role name contains a NUL byte")
    return role


@dataclass(frozen=True)
class Database:
    """One database to grant in: where it is, and which tables are sensitive in it."""

    label: str
    dbname: str | None
    tables: tuple[tuple[str, str], ...]  # (schema, table)


def tables_of(columns: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """`table.column` (schema public) or `schema.table.column`, parts optionally
    double-quoted (`public."archive.customers".email`) -> sorted unique tables."""
    found: set[tuple[str, str]] = set()
    for spec in columns:
        try:
            schema, table, _ = column_spec(spec)
        except IdentError as exc:
            raise GrantsError(str(exc)) from None
        found.add((schema, table))
    return tuple(sorted(found))


def postgres_targets(config: ScanConfig) -> list[PostgresTarget]:
    found = [t for t in config.targets if isinstance(t, PostgresTarget)]
    if not found:
        raise GrantsError("the config has no postgres targets to grant on")
    return found


def databases_of(targets: list[PostgresTarget]) -> list[Database]:
    out: list[Database] = []
    for target in targets:
        parts = target.dsn_parts
        tables = tables_of(target.sensitive_columns)
        if isinstance(target.databases, tuple):  # a server target: each database it lists
            server = f"{parts['host']}:{parts['port']}"
            out += [
                Database(f"target {target.name}/{db} ({server})", db, tables)
                for db in target.databases
            ]
            continue
        if target.scans_databases:  # `databases: all`: the names are known only to the server
            label = (
                f"target {target.name}: every database of {parts['host']}:{parts['port']} "
                "it scans (databases: all) - run this part in each"
            )
            out.append(Database(label, None, tables))
            continue
        where = f"{parts['host']}:{parts['port']}/{parts['dbname'] or '(default database)'}"
        out.append(
            Database(
                f"target {target.name} ({where})",
                parts["dbname"],
                tables_of(target.sensitive_columns),
            )
        )
    return out


def role_for(target: PostgresTarget, override: str | None) -> str:
    return override or target.dsn_parts["user"] or DEFAULT_ROLE


def _header(role: str, profile: str) -> list[str]:
    q, lit = sql_ident(role), sql_literal(role)
    create = "\n".join(
        [
            "BEGIN",
            f"  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {lit}) THEN",
            f"    CREATE ROLE {q} LOGIN;",
            "  END IF;",
            "END",
        ]
    )
    lines = [
        sql_comment(f"Least-privilege scanning role {role} for Auditor ({profile} profile)."),
        "-- Review, then run as a superuser (e.g. psql -f this-file.sql). Set the password",
        sql_comment(f"interactively afterwards with:  \\password {psql_argument(role)}"),
        "-- (never in a file or on a command line, where it would be kept in clear).",
        f"DO {_dollar_quoted(create)};",
        "-- Settings with their source file:line, pg_stat_ssl and pg_stat_activity of all roles.",
        GRANT_MONITOR.format(role=q),
    ]
    if profile == DISCOVERY:
        lines += _discovery(q)
    return lines


def _discovery(q: str) -> list[str]:
    """What PII discovery needs beyond monitoring: to read every row of every table, not
    only the declared ones, and not only the rows a row-level security policy lets it see."""
    check_version = "\n".join(
        [
            "BEGIN",
            "  IF pg_catalog.current_setting('server_version_num')::int < 140000 THEN",
            "    RAISE EXCEPTION 'pg_read_all_data needs PostgreSQL 14 or later: grant SELECT "
            "on each table (GRANT SELECT ON ALL TABLES IN SCHEMA ...) instead';",
            "  END IF;",
            "END",
        ]
    )
    return [
        "-- Discovery: column.plaintext_pii samples every table for personal data in clear.",
        "-- pg_read_all_data (PostgreSQL 14+) is SELECT on all tables, views and sequences and",
        "-- USAGE on all schemas, now and in future, and nothing else: no writes, no DDL.",
        f"DO {_dollar_quoted(check_version)};",
        f"GRANT pg_read_all_data TO {q};",
        "-- Row-level security filters rows even for pg_read_all_data: without BYPASSRLS the",
        "-- scan sees only the rows a policy shows it (often none, or only encrypted ones) and",
        "-- would judge a plaintext column on that filtered view. BYPASSRLS changes what is",
        "-- read, never what may be written.",
        f"ALTER ROLE {q} BYPASSRLS;",
    ]


def _per_database(role: str, db: Database, connect: bool, profile: str) -> list[str]:
    q = sql_ident(role)
    lines = ["", sql_comment(db.label)]
    if connect and db.dbname:
        lines.append(f"\\connect {psql_argument(db.dbname)}")
    lines += [
        "-- pg_hba rules as the server parsed them (auth.hba_* checks); per database.",
        *GRANT_HBA_RULES.format(role=q).split("; "),
        "-- Configuration files with line numbers (setting evidence, errors in files).",
        *GRANT_FILE_SETTINGS.format(role=q).split("; "),
    ]
    if profile == DISCOVERY:
        lines.append("-- Tables: every one is readable through pg_read_all_data (granted above).")
    elif db.tables:
        lines.append("-- Sampled by the column checks (TABLESAMPLE, read-only).")
        for schema in sorted({s for s, _ in db.tables}):
            lines.append(f"GRANT USAGE ON SCHEMA {sql_ident(schema)} TO {q};")
        for schema, table in db.tables:
            lines.append(f"GRANT SELECT ON {sql_qualified(schema, table)} TO {q};")
        lines += [
            "-- Only these tables: PII discovery in other tables, and rows hidden by row-level",
            "-- security, need the discovery profile (auditor grants --profile discovery).",
        ]
    else:
        lines += [
            "-- No sensitive columns declared: grant each table that holds personal data,",
            "-- and its schema, so the column checks can sample it:",
            f"--   GRANT USAGE ON SCHEMA <schema> TO {q};",
            f"--   GRANT SELECT ON <schema>.<table> TO {q};",
        ]
    return [
        line if line.endswith(";") or line.startswith(("--", "\\")) or not line else line + ";"
        for line in lines
    ]


_FOOTER = [
    "",
    "-- auth.role_password_hashes reads pg_authid, which no grant opens to a non-superuser:",
    "-- that check reports skip for this role; run it once with a superuser session or",
    "-- attest the stored hashes manually.",
]


def grants_sql(
    config: ScanConfig | None = None, role: str | None = None, profile: str = MONITORING
) -> str:
    """The script for one role; with a config, one section per target database.

    `monitoring` reads settings, pg_hba and the declared sensitive tables; `discovery` adds
    what PII discovery needs to read every row of every table (pg_read_all_data, BYPASSRLS).
    """
    if profile not in PROFILES:
        raise GrantsError(f"unknown profile {profile!r} (profiles: {', '.join(PROFILES)})")
    if config is None:
        name = check_role_name(role or DEFAULT_ROLE)
        dbs = [Database("every database you scan (run this part in each)", None, ())]
        body = _header(name, profile) + _per_database(name, dbs[0], False, profile)
        return "\n".join(body + _FOOTER) + "\n"
    targets = postgres_targets(config)
    roles = {role_for(t, role) for t in targets}
    if len(roles) > 1:
        raise GrantsError(
            f"targets log in as different roles ({', '.join(sorted(roles))}); "
            "pick one with --role or generate per target with --target"
        )
    name = check_role_name(roles.pop())
    lines = _header(name, profile)
    for db in databases_of(targets):
        lines += _per_database(name, db, True, profile)
    return "\n".join(lines + _FOOTER) + "\n"
