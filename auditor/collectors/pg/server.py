"""Server-wide facts: version, settings with their source file:line, extensions, roles,
pg_hba rules, stored password kinds and the TLS state of every client backend."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from auditor.collectors.base import CollectContext
from auditor.collectors.pg.session import PgSession, SessionCollector
from auditor.facts import FactSection
from auditor.pg_ident import sql_ident

GRANT_FILE_SETTINGS = (
    "GRANT SELECT ON pg_catalog.pg_file_settings TO {role}; "
    "GRANT EXECUTE ON FUNCTION pg_catalog.pg_show_all_file_settings() TO {role};"
)
GRANT_HBA_RULES = (
    "GRANT SELECT ON pg_catalog.pg_hba_file_rules TO {role}; "
    "GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO {role};"
)
GRANT_MONITOR = "GRANT pg_monitor TO {role};"
NEEDS_SUPERUSER = (
    "stored password hashes are only readable by a superuser (pg_authid); "
    "run this check with a superuser session or attest it manually"
)


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Setting(_Row):
    name: str
    value: str
    unit: str | None = None
    source: str  # default, configuration file, override, command line...
    sourcefile: str | None = None
    sourceline: int | None = None
    pending_restart: bool = False

    @property
    def where(self) -> str:
        if self.sourcefile:
            return f"{self.sourcefile}:{self.sourceline}" if self.sourceline else self.sourcefile
        return self.source

    def evidence(self) -> dict[str, Any]:
        return {"setting": self.name, "value": self.value, "source": self.where}


class FileSetting(_Row):
    sourcefile: str | None
    sourceline: int | None
    name: str | None
    setting: str | None
    applied: bool
    error: str | None


class HbaRuleRow(_Row):
    """One row of pg_hba_file_rules, as the server parsed it."""

    line_number: int | None
    file_name: str | None = None  # PostgreSQL 16+
    type: str | None
    database: tuple[str, ...] = ()
    user_name: tuple[str, ...] = ()
    address: str | None = None
    netmask: str | None = None
    auth_method: str | None = None
    options: tuple[str, ...] = ()
    error: str | None = None


class Role(_Row):
    name: str
    superuser: bool
    can_login: bool
    replication: bool
    bypass_rls: bool
    member_of: tuple[str, ...] = ()


class Backend(_Row):
    """A client backend from pg_stat_activity joined with pg_stat_ssl."""

    pid: int
    user: str | None
    application_name: str | None
    client_addr: str | None
    client_port: int | None
    ssl: bool
    tls_version: str | None = None
    cipher: str | None = None
    bits: int | None = None


class ServerFacts(FactSection):
    section = "postgres"

    server_version: str
    server_version_num: int
    database: str
    current_user: str
    is_superuser: bool
    monitor_privileges: bool  # member of pg_monitor or pg_read_all_settings (or superuser)
    settings: dict[str, Setting]
    file_settings: tuple[FileSetting, ...] | None = None
    extensions: dict[str, str]
    roles: tuple[Role, ...]
    hba_rules: tuple[HbaRuleRow, ...] | None = None
    # role name -> "scram-sha-256" | "md5" | "plaintext" | None (no password)
    password_kinds: dict[str, str | None] | None = None
    backends: tuple[Backend, ...]
    own_pid: int
    # item -> what would make it readable (an exact GRANT, or why it cannot be)
    unavailable: dict[str, str] = {}

    def setting(self, name: str) -> Setting | None:
        return self.settings.get(name)


def _password_kind(hash_: str | None) -> str | None:
    if hash_ is None:
        return None
    if hash_.startswith("SCRAM-SHA-256$"):
        return "scram-sha-256"
    if hash_.startswith("md5") and len(hash_) == 35:
        return "md5"
    return "plaintext"


class ServerCollector(SessionCollector):
    model = ServerFacts
    order = 10

    def collect(self, session: PgSession, ctx: CollectContext) -> ServerFacts:
        who = session.rows(
            # Every function, operator and type is schema-qualified: the session pins
            # search_path to pg_catalog as well, but no owner's object may ever be a candidate.
            # (ORDER BY needs no qualifying: it uses the type's default btree operator class,
            # found through the catalog, not the search path.)
            """SELECT current_user AS current_user, pg_catalog.current_database() AS database,
                      pg_catalog.pg_backend_pid() AS pid,
                      pg_catalog.current_setting('server_version') AS version,
                      pg_catalog.current_setting('server_version_num')::pg_catalog.int4
                        AS version_num,
                      (SELECT r.rolsuper FROM pg_catalog.pg_roles r
                       WHERE r.rolname OPERATOR(pg_catalog.=) current_user) AS superuser,
                      pg_catalog.pg_has_role(current_user, 'pg_read_all_settings', 'USAGE')
                        AND pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')
                        AS monitor"""
        )[0]
        role = who["current_user"]
        unavailable: dict[str, str] = {}
        if not who["monitor"]:
            unavailable["settings_sources"] = GRANT_MONITOR.format(role=sql_ident(role))

        settings = {
            r["name"]: Setting(
                name=r["name"],
                value=r["setting"] or "",
                unit=r["unit"],
                source=r["source"],
                sourcefile=r["sourcefile"],
                sourceline=r["sourceline"],
                pending_restart=bool(r["pending_restart"]),
            )
            for r in session.rows(
                "SELECT name, setting, unit, source, sourcefile, sourceline, pending_restart "
                "FROM pg_catalog.pg_settings"
            )
        }

        file_rows = session.rows_or_none(
            "SELECT sourcefile, sourceline, name, setting, applied, error "
            "FROM pg_catalog.pg_file_settings ORDER BY sourcefile, sourceline"
        )
        if file_rows is None:
            unavailable["file_settings"] = GRANT_FILE_SETTINGS.format(role=sql_ident(role))

        hba_rows = session.rows_or_none(
            "SELECT * FROM pg_catalog.pg_hba_file_rules ORDER BY line_number"
        )
        if hba_rows is None:
            unavailable["hba_rules"] = GRANT_HBA_RULES.format(role=sql_ident(role))

        password_kinds: dict[str, str | None] | None = None
        if who["superuser"]:
            password_kinds = {
                r["rolname"]: _password_kind(r["rolpassword"])
                for r in session.rows(
                    # NOLOGIN roles too: a stored md5 hash is a credential once LOGIN is granted.
                    "SELECT rolname, rolpassword FROM pg_catalog.pg_authid "
                    "WHERE rolcanlogin OR rolpassword IS NOT NULL ORDER BY rolname"
                )
            }
        else:
            unavailable["password_kinds"] = NEEDS_SUPERUSER

        roles = tuple(
            Role(
                name=r["rolname"],
                superuser=r["rolsuper"],
                can_login=r["rolcanlogin"],
                replication=r["rolreplication"],
                bypass_rls=r["rolbypassrls"],
                member_of=tuple(r["member_of"] or ()),
            )
            for r in session.rows(
                """SELECT r.rolname, r.rolsuper, r.rolcanlogin, r.rolreplication, r.rolbypassrls,
                          ARRAY(SELECT g.rolname FROM pg_catalog.pg_auth_members m
                                JOIN pg_catalog.pg_roles g
                                  ON g.oid OPERATOR(pg_catalog.=) m.roleid
                                WHERE m.member OPERATOR(pg_catalog.=) r.oid
                                ORDER BY 1) AS member_of
                   FROM pg_catalog.pg_roles r
                   WHERE r.rolname OPERATOR(pg_catalog.!~) '^pg_'
                   ORDER BY r.rolname"""
            )
        )

        backends = tuple(
            Backend(
                pid=r["pid"],
                user=r["usename"],
                application_name=r["application_name"],
                client_addr=r["client_addr"],
                client_port=r["client_port"],
                ssl=bool(r["ssl"]),
                tls_version=r["version"],
                cipher=r["cipher"],
                bits=r["bits"],
            )
            for r in session.rows(
                """SELECT a.pid, a.usename, a.application_name,
                          pg_catalog.host(a.client_addr) AS client_addr,
                          a.client_port, s.ssl, s.version, s.cipher, s.bits
                   FROM pg_catalog.pg_stat_activity a
                   JOIN pg_catalog.pg_stat_ssl s ON s.pid OPERATOR(pg_catalog.=) a.pid
                   WHERE a.backend_type OPERATOR(pg_catalog.=) 'client backend'
                   ORDER BY a.pid"""
            )
        )

        return ServerFacts(
            server_version=who["version"],
            server_version_num=who["version_num"],
            database=who["database"],
            current_user=role,
            is_superuser=bool(who["superuser"]),
            monitor_privileges=bool(who["superuser"] or who["monitor"]),
            settings=settings,
            file_settings=None if file_rows is None else tuple(FileSetting(**r) for r in file_rows),
            extensions={
                r["extname"]: r["extversion"]
                for r in session.rows("SELECT extname, extversion FROM pg_catalog.pg_extension")
            },
            roles=roles,
            hba_rules=None if hba_rows is None else tuple(_hba_row(r) for r in hba_rows),
            password_kinds=password_kinds,
            backends=backends,
            own_pid=who["pid"],
            unavailable=unavailable,
        )


def _hba_row(r: dict[str, Any]) -> HbaRuleRow:
    return HbaRuleRow(
        line_number=r.get("line_number"),
        file_name=r.get("file_name"),
        type=r.get("type"),
        database=tuple(r.get("database") or ()),
        user_name=tuple(r.get("user_name") or ()),
        address=r.get("address"),
        netmask=r.get("netmask"),
        auth_method=r.get("auth_method"),
        options=tuple(r.get("options") or ()),
        error=r.get("error"),
    )
