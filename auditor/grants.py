"""The SQL that sets up a least-privilege scanning role: `pg_monitor`, read access to the
pg_hba and configuration-file views, and SELECT on the declared sensitive tables.

Generated text only (no connection): the operator reviews it and runs it with psql. The
password is never part of it; `\\password` sets it interactively.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from auditor.collectors.pg.server import GRANT_FILE_SETTINGS, GRANT_HBA_RULES, GRANT_MONITOR
from auditor.config import PostgresTarget, ScanConfig

DEFAULT_ROLE = "auditor"
_SIMPLE = re.compile(r"[a-z_][a-z0-9_$]*")
# Names that are keywords in GRANT/CREATE ROLE, or pseudo-roles a grant must never target.
_RESERVED = frozenset(
    {
        "all",
        "user",
        "group",
        "table",
        "select",
        "order",
        "role",
        "grant",
        "to",
        "on",
        "schema",
        "database",
        "function",
        "with",
        "default",
    }
)
_FORBIDDEN_ROLES = frozenset({"public", "none", "current_user", "session_user", "current_role"})


class GrantsError(Exception):
    """A one-line reason the SQL cannot be produced (bad role name, bad column spec)."""


def quote_ident(name: str) -> str:
    if _SIMPLE.fullmatch(name) and name not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


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
    """`table.column` (schema public) or `schema.table.column` -> sorted unique tables."""
    found: set[tuple[str, str]] = set()
    for spec in columns:
        parts = spec.split(".")
        if len(parts) == 2:
            found.add(("public", parts[0]))
        elif len(parts) == 3:
            found.add((parts[0], parts[1]))
        else:
            raise GrantsError(f"{spec!r} is not table.column or schema.table.column")
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


def _header(role: str) -> list[str]:
    q, lit = quote_ident(role), quote_literal(role)
    return [
        f"-- Least-privilege scanning role {role} for Auditor.",
        "-- Review, then run as a superuser (e.g. psql -f this-file.sql). Set the password",
        f"-- interactively afterwards with:  \\password {q}",
        "-- (never in a file or on a command line, where it would be kept in clear).",
        "DO $$",
        "BEGIN",
        f"  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {lit}) THEN",
        f"    CREATE ROLE {q} LOGIN;",
        "  END IF;",
        "END",
        "$$;",
        "-- Settings with their source file:line, pg_stat_ssl and pg_stat_activity of all roles.",
        GRANT_MONITOR.format(role=q),
    ]


def _per_database(role: str, db: Database, connect: bool) -> list[str]:
    q = quote_ident(role)
    lines = ["", f"-- {db.label}"]
    if connect and db.dbname:
        lines.append(f"\\connect {quote_ident(db.dbname)}")
    lines += [
        "-- pg_hba rules as the server parsed them (auth.hba_* checks); per database.",
        *GRANT_HBA_RULES.format(role=q).split("; "),
        "-- Configuration files with line numbers (setting evidence, errors in files).",
        *GRANT_FILE_SETTINGS.format(role=q).split("; "),
    ]
    if db.tables:
        lines.append("-- Sampled by the column checks (TABLESAMPLE, read-only).")
        for schema in sorted({s for s, _ in db.tables}):
            lines.append(f"GRANT USAGE ON SCHEMA {quote_ident(schema)} TO {q};")
        for schema, table in db.tables:
            lines.append(f"GRANT SELECT ON {quote_ident(schema)}.{quote_ident(table)} TO {q};")
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


def grants_sql(config: ScanConfig | None = None, role: str | None = None) -> str:
    """The script for one role; with a config, one section per target database."""
    if config is None:
        name = check_role_name(role or DEFAULT_ROLE)
        dbs = [Database("every database you scan (run this part in each)", None, ())]
        body = _header(name) + _per_database(name, dbs[0], connect=False)
        return "\n".join(body + _FOOTER) + "\n"
    targets = postgres_targets(config)
    roles = {role_for(t, role) for t in targets}
    if len(roles) > 1:
        raise GrantsError(
            f"targets log in as different roles ({', '.join(sorted(roles))}); "
            "pick one with --role or generate per target with --target"
        )
    name = check_role_name(roles.pop())
    lines = _header(name)
    for db in databases_of(targets):
        lines += _per_database(name, db, connect=True)
    return "\n".join(lines + _FOOTER) + "\n"
