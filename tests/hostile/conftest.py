"""A hostile database on a real cluster: an owner who set traps for the scanner.

The owner of database `app` (a non-superuser, `dbowner`) creates schema `evil` with functions,
operators and types that shadow the built-ins the scanner's SQL uses, and puts `evil` first on
the database's search path; the (superuser) tricks a careless or hostile administrator could
add go on the scanner's own role. Every trap raises a WARNING `HOSTILE-MARKER <name>` before
doing the real work, and `log_line_prefix` puts the session's application name in front of
each server log line, so "the scanner never ran the owner's code" is checked as "no
`auditor|...HOSTILE-MARKER` line in the server log". Control tests in the suite show that each
trap does fire in a session that is not pinned.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from auditor.lab.cluster import Cluster, Variant
from tests.conftest import AUDITOR_PASSWORD, ClusterFactory

MARKER = "HOSTILE-MARKER"
# A real pgcrypto ciphertext the trap `evil.left` hands back for any value, which would turn a
# plaintext column into a PASS if the scanner ever called it.
FAKE_CIPHERTEXT_SQL = (
    "pg_catalog.encode(public.pgp_sym_encrypt('fake', 'k', "
    "'cipher-algo=aes256, s2k-mode=3, s2k-digest-algo=sha256'), 'base64')"
)

# (name, argument types, result type, the real call) of the shadowing functions.
TRAP_FUNCTIONS = (
    ("left", "text, integer", "text", None),  # special: returns the fake ciphertext
    ("lower", "text", "text", "pg_catalog.lower($1)"),
    ("upper", "text", "text", "pg_catalog.upper($1)"),
    ("length", "text", "integer", "pg_catalog.length($1)"),
    ("substring", "text, integer, integer", "text", "pg_catalog.substring($1, $2, $3)"),
    ("substring", "bytea, integer, integer", "bytea", "pg_catalog.substring($1, $2, $3)"),
    ("encode", "bytea, text", "text", "pg_catalog.encode($1, $2)"),
    ("decode", "text, text", "bytea", "pg_catalog.decode($1, $2)"),
    ("format", "text", "text", "pg_catalog.format($1)"),
    ("format", "text, VARIADIC text[]", "text", "pg_catalog.format($1, VARIADIC $2)"),
    ("quote_ident", "text", "text", "pg_catalog.quote_ident($1)"),
    ("current_setting", "text", "text", "pg_catalog.current_setting($1)"),
    ("current_setting", "text, boolean", "text", "pg_catalog.current_setting($1, $2)"),
    ("current_database", "", "name", "pg_catalog.current_database()"),
    ("current_schemas", "boolean", "name[]", "pg_catalog.current_schemas($1)"),
    ("pg_backend_pid", "", "integer", "pg_catalog.pg_backend_pid()"),
    ("pg_has_role", "name, text, text", "boolean", "pg_catalog.pg_has_role($1, $2, $3)"),
    ("host", "inet", "text", "pg_catalog.host($1)"),
    ("has_table_privilege", "oid, text", "boolean", "pg_catalog.has_table_privilege($1, $2)"),
    (
        "has_column_privilege",
        "oid, smallint, text",
        "boolean",
        "pg_catalog.has_column_privilege($1, $2, $3)",
    ),
    ("pg_get_functiondef", "oid", "text", "pg_catalog.pg_get_functiondef($1)"),
    ("pg_get_viewdef", "oid", "text", "pg_catalog.pg_get_viewdef($1)"),
    ("pg_get_expr", "pg_node_tree, oid", "text", "pg_catalog.pg_get_expr($1, $2)"),
    ("format_type", "oid, integer", "text", "pg_catalog.format_type($1, $2)"),
    ("array_to_string", "anyarray, text", "text", "pg_catalog.array_to_string($1, $2)"),
    ("now", "", "timestamptz", "pg_catalog.now()"),
)
# (operator, left type, right type, the real comparison) of the shadowing operators.
TRAP_OPERATORS = (
    ("=", "name", "name", "$1 OPERATOR(pg_catalog.=) $2"),
    ("=", "text", "text", "$1 OPERATOR(pg_catalog.=) $2"),
    ("=", "oid", "oid", "$1 OPERATOR(pg_catalog.=) $2"),
    ("!~", "name", "text", "$1 OPERATOR(pg_catalog.!~) $2"),
    ("~", "text", "text", "$1 OPERATOR(pg_catalog.~) $2"),
    ("~~", "text", "text", "$1 OPERATOR(pg_catalog.~~) $2"),
)


def _trap_sql() -> str:
    out: list[str] = []
    for name, args, result, real in TRAP_FUNCTIONS:
        params = ", ".join(
            f"VARIADIC a{i} {t.removeprefix('VARIADIC ')}"
            if t.startswith("VARIADIC")
            else f"a{i} {t}"
            for i, t in enumerate(args.split(", ") if args else (), 1)
        )
        body = real if real is not None else "(SELECT fake FROM evil.fake)"
        if real is not None:
            for i in range(1, 4):
                body = body.replace(f"VARIADIC ${i}", f"VARIADIC a{i}").replace(f"${i}", f"a{i}")
        out.append(
            f"CREATE FUNCTION evil.{name}({params}) RETURNS {result} LANGUAGE plpgsql AS $f$\n"
            f"BEGIN RAISE WARNING '{MARKER} {name}({args})'; RETURN {body}; END $f$;"
        )
    for i, (op, left, right, real) in enumerate(TRAP_OPERATORS):
        out.append(
            f"CREATE FUNCTION evil.op{i}(a1 {left}, a2 {right}) RETURNS boolean LANGUAGE plpgsql "
            f"AS $f$ BEGIN RAISE WARNING '{MARKER} {op}({left}, {right})'; "
            f"RETURN {real.replace('$1', 'a1').replace('$2', 'a2')}; END $f$;\n"
            f"CREATE OPERATOR evil.{op} (LEFTARG = {left}, RIGHTARG = {right}, "
            f"FUNCTION = evil.op{i});"
        )
    return "\n".join(out)


HOSTILE_SEED = f"""
CREATE EXTENSION pgcrypto;
-- The scanner logs in as a superuser (stored password hashes need one).
CREATE ROLE auditor LOGIN SUPERUSER PASSWORD '{AUDITOR_PASSWORD}';
CREATE ROLE dbowner LOGIN PASSWORD 'owner-test-pw';
CREATE ROLE lowly NOLOGIN;
ALTER DATABASE app OWNER TO dbowner;
GRANT CREATE ON SCHEMA public TO dbowner;

-- What the database owner alone can do.
SET ROLE dbowner;
CREATE SCHEMA evil;
CREATE TABLE evil.fake AS SELECT {FAKE_CIPHERTEXT_SQL} AS fake;
GRANT USAGE ON SCHEMA evil TO PUBLIC;
GRANT SELECT ON evil.fake TO PUBLIC;
{_trap_sql()}
-- Types named like built-ins: a cast to them would run the domain's check.
CREATE FUNCTION evil.domain_trap(x anyelement) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN RAISE WARNING '{MARKER} domain check'; RETURN true; END $f$;
CREATE DOMAIN evil.text AS pg_catalog.text CHECK (evil.domain_trap(VALUE));
CREATE DOMAIN evil.int4 AS pg_catalog.int4 CHECK (evil.domain_trap(VALUE));
CREATE DOMAIN evil.oid AS pg_catalog.oid CHECK (evil.domain_trap(VALUE));

-- A declared sensitive column in plaintext, and an encrypted one.
CREATE TABLE public.users (
    id bigserial PRIMARY KEY,
    ssn text NOT NULL,
    email text NOT NULL
);
INSERT INTO public.users (ssn, email)
SELECT '078-05-' || lpad(g::text, 4, '0'),
       pg_catalog.encode(public.pgp_sym_encrypt('user' || g || '@example.com', 'k1',
                         'cipher-algo=aes256, s2k-mode=1'), 'base64')
FROM generate_series(1, 30) g;

ALTER DATABASE app SET search_path = evil, pg_catalog, public;
ALTER DATABASE app SET default_transaction_read_only = off;
ALTER DATABASE app SET statement_timeout = 0;
ALTER DATABASE app SET lock_timeout = 0;
ALTER DATABASE app SET idle_in_transaction_session_timeout = 0;
ALTER DATABASE app SET role = 'lowly';
ALTER DATABASE app SET DateStyle = 'German';
ALTER DATABASE app SET bytea_output = 'escape';
ALTER DATABASE app SET client_encoding = 'SJIS';
RESET ROLE;

-- What only a superuser could add, aimed at the scanner's own role.
ALTER ROLE auditor SET search_path = evil, pg_catalog;
ALTER ROLE auditor IN DATABASE app SET search_path = evil, pg_catalog, public;
ALTER ROLE auditor IN DATABASE app SET default_transaction_read_only = off;
ALTER ROLE auditor IN DATABASE app SET statement_timeout = 0;
-- Every login of the scanner to this database would fail loading a missing library.
ALTER ROLE auditor IN DATABASE app SET local_preload_libraries = 'hostile_absent';
CREATE FUNCTION evil.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $f$
BEGIN RAISE WARNING '{MARKER} event trigger'; END $f$;
CREATE EVENT TRIGGER hostile_ddl ON ddl_command_start EXECUTE FUNCTION evil.on_ddl();
"""

HOSTILE_SETTINGS = """
log_statement = 'all'
log_line_prefix = '%a|'
log_min_messages = warning
log_connections = on
"""
HOSTILE_HBA = "hostssl all all 127.0.0.1/32 scram-sha-256\n"


@pytest.fixture(scope="session")
def hostile_cluster(start_cluster: ClusterFactory) -> Cluster:
    return start_cluster(
        Variant(name="hostile", settings=HOSTILE_SETTINGS, hba=HOSTILE_HBA, seed_sql=HOSTILE_SEED)
    )


def scanner_markers(cluster: Cluster, app: str = "auditor") -> list[str]:
    """Trap warnings raised in sessions whose application_name is `app`."""
    return [
        line
        for line in cluster.log_text().splitlines()
        if line.startswith(f"{app}|") and MARKER in line
    ]


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AUDITOR_TEST_PW", AUDITOR_PASSWORD)
    yield


# A server without TLS, for the stalling proxy (which speaks the plaintext protocol) and for
# the scanner's refusal to send a password in clear.
CANARY_PASSWORD = "Kq7vW#Lm2xZ/Pz9wRt?Rt4yHb&Hb6nJc@Jc3sFd"
PLAIN_SEED = f"""
CREATE ROLE auditor LOGIN PASSWORD '{AUDITOR_PASSWORD}' IN ROLE pg_monitor;
CREATE ROLE canary LOGIN PASSWORD '{CANARY_PASSWORD}' IN ROLE pg_monitor;
"""


@pytest.fixture(scope="session")
def plain_cluster(start_cluster: ClusterFactory) -> Cluster:
    return start_cluster(
        Variant(
            name="hostile-plain",
            settings="log_connections = on\nlog_line_prefix = '%a|'\n",
            hba="host all all 127.0.0.1/32 scram-sha-256\n",
            seed_sql=PLAIN_SEED,
            tls=None,
        )
    )
