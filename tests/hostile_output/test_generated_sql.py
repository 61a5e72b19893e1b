"""`auditor grants` on a real cluster whose names are hostile: the printed script is run with
psql as an operator would, and neither a line break in a target or database name (a psql
`\\!` shell line), backquotes, `$$`, nor a reserved word (`order`) can break or subvert it.

Also the discovery profile (issue 10): both profiles are run, and only the discovery role
reads the rows of a table that row-level security hides from the monitoring role.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from click.testing import CliRunner

from auditor.commands.grants import grants_command
from auditor.grants import grants_sql
from auditor.lab.cluster import ADMIN_PASSWORD, ADMIN_USER, Cluster, Variant
from auditor.pg_ident import QUOTED_KEYWORDS, quote_ident, sql_ident, sql_literal
from tests.conftest import ClusterFactory
from tests.hostile_output.corpus import HOSTILE_NAMES

CANARY = "auditor-canary"
# A database whose name would run a shell command in psql if printed raw on a \connect line,
# in a comment, or inside backquotes.
HOSTILE_DB = "db\n\\! touch CANARY1\n`touch CANARY2`"
SEED = """
CREATE SCHEMA "order";
CREATE TABLE "order"."archive.customers" (email text);
CREATE SCHEMA archive;
CREATE TABLE archive.customers (email text);
INSERT INTO "order"."archive.customers" VALUES ('a@example.org');
CREATE TABLE public.patients (email text, visible boolean);
INSERT INTO public.patients
  SELECT 'p' || i || '@example.org', i <= 2 FROM generate_series(1, 10) i;
ALTER TABLE public.patients ENABLE ROW LEVEL SECURITY;
CREATE POLICY only_visible ON public.patients FOR SELECT USING (visible);
"""


@pytest.fixture(scope="module")
def hostile_cluster(start_cluster: ClusterFactory) -> Cluster:
    cluster = start_cluster(Variant(name="hostile-names"))
    with cluster.admin_connection("postgres") as conn:
        conn.autocommit = True
        conn.execute(f"CREATE DATABASE {quote_ident(HOSTILE_DB)}")
    with cluster.admin_connection(HOSTILE_DB) as conn:
        conn.execute(SEED.encode())
        conn.commit()
    return cluster


def _psql(cluster: Cluster, script: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("psql is not installed")
    env = {**os.environ, "PGPASSWORD": ADMIN_PASSWORD}
    return subprocess.run(
        [psql, "-X", "-v", "ON_ERROR_STOP=1", "-h", str(cluster.sockdir), "-p",
         str(cluster.port), "-U", ADMIN_USER, "-d", "postgres", "-f", str(script)],
        capture_output=True, text=True, env=env, cwd=cwd, check=False, timeout=120,
    )  # fmt: skip


def _config(cluster: Cluster, tmp_path: Path, role: str) -> Path:
    dsn = f"postgresql://{role}@localhost:{cluster.port}/{quote(HOSTILE_DB, safe='')}"
    config = tmp_path / "auditor.yaml"
    config.write_text(
        "targets:\n"
        '  - name: "t\\n\\\\! touch CANARY3\\n[/]\\e[2J"\n'
        f"    dsn: '{dsn}'\n"
        "    sensitive_columns:\n"
        "      - 'order.\"archive.customers\".email'\n"
        "      - archive.customers.email\n"
        "      - patients.email\n"
    )
    return config


def _grants(config: Path, *extra: str) -> str:
    result = CliRunner().invoke(grants_command, ["-c", str(config), *extra])
    assert result.exit_code == 0, result.output
    return result.output


def _can_read(cluster: Cluster, role: str, sql: str) -> list[tuple[object, ...]]:
    with cluster.admin_connection(HOSTILE_DB) as conn:
        conn.execute(f"ALTER ROLE {quote_ident(role)} PASSWORD 'probe-pw'")
        conn.commit()
    with psycopg.connect(
        host="127.0.0.1", port=cluster.port, user=role, password="probe-pw",
        dbname=HOSTILE_DB, sslmode="require",
    ) as conn:  # fmt: skip
        return conn.execute(sql).fetchall()


def test_hostile_names_cannot_break_or_subvert_the_grants_script(
    hostile_cluster: Cluster, tmp_path: Path
) -> None:
    sql = _grants(_config(hostile_cluster, tmp_path, "monitor_probe"))
    for line in sql.splitlines():  # every line is a comment, SQL, or a quoted \connect
        assert not line.startswith("\\!")
        assert not line.startswith("\\") or line.startswith("\\connect '")
    assert 'GRANT USAGE ON SCHEMA "order" TO monitor_probe;' in sql
    assert 'GRANT SELECT ON "order"."archive.customers" TO monitor_probe;' in sql
    assert "GRANT SELECT ON archive.customers TO monitor_probe;" in sql
    script = tmp_path / "grants.sql"
    script.write_text(sql)
    run = _psql(hostile_cluster, script, tmp_path)
    assert run.returncode == 0, run.stderr
    assert not list(tmp_path.glob("CANARY*")), "a name ran a shell command"
    # The role really can read both tables whose names would collide if unquoted.
    assert _can_read(
        hostile_cluster, "monitor_probe", 'SELECT email FROM "order"."archive.customers"'
    ) == [("a@example.org",)]
    assert _can_read(hostile_cluster, "monitor_probe", "SELECT * FROM archive.customers") == []


def test_discovery_role_reads_rows_that_rls_hides_from_the_monitoring_role(
    hostile_cluster: Cluster, tmp_path: Path
) -> None:
    config = _config(hostile_cluster, tmp_path, "rls_monitor")
    monitoring = _grants(config, "--role", "rls_monitor")
    discovery = _grants(config, "--role", "rls_discovery", "--profile", "discovery")
    assert "pg_read_all_data" not in monitoring and "BYPASSRLS" not in monitoring
    assert "GRANT pg_read_all_data TO rls_discovery;" in discovery.splitlines()
    assert "ALTER ROLE rls_discovery BYPASSRLS;" in discovery.splitlines()
    assert "-- Row-level security filters rows even for pg_read_all_data" in discovery
    for name, sql in (("monitoring.sql", monitoring), ("discovery.sql", discovery)):
        (tmp_path / name).write_text(sql)
        run = _psql(hostile_cluster, tmp_path / name, tmp_path)
        assert run.returncode == 0, run.stderr
    count = "SELECT count(*) FROM public.patients"
    assert _can_read(hostile_cluster, "rls_monitor", count) == [(2,)]  # RLS filters its view
    assert _can_read(hostile_cluster, "rls_discovery", count) == [(10,)]
    # Discovery reads tables nobody declared, and still cannot write.
    assert _can_read(hostile_cluster, "rls_discovery", "SELECT count(*) FROM archive.customers")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _can_read(hostile_cluster, "rls_discovery", "DELETE FROM public.patients")


@pytest.mark.parametrize("role", ["order", "ev$$il", 'Aud "it"', "r\n\\! touch CANARY4", "x`y`"])
def test_hostile_role_names_give_valid_sql(
    hostile_cluster: Cluster, tmp_path: Path, role: str
) -> None:
    script = tmp_path / "generic.sql"
    script.write_text(grants_sql(role=role, profile="discovery"))
    run = _psql(hostile_cluster, script, tmp_path)
    assert run.returncode == 0, run.stderr
    assert not list(tmp_path.glob("CANARY*"))
    with hostile_cluster.admin_connection("postgres") as conn:
        row = conn.execute(
            "SELECT rolbypassrls, pg_catalog.pg_has_role(oid, 'pg_read_all_data', 'MEMBER') "
            "FROM pg_catalog.pg_roles WHERE rolname = %s",
            (role,),
        ).fetchone()
    assert row == (True, True)


def test_identifier_quoting_matches_the_servers(hostile_cluster: Cluster) -> None:
    names = [*HOSTILE_NAMES, "users", "Users", "user_1", "_x", "1x", "a$b", "ünï", "select",
             "name", "int", "between", "left", "abort", "x y", ""]  # fmt: skip
    names = [n.replace("\x00", "") for n in names]  # text cannot hold NUL
    with hostile_cluster.admin_connection("postgres") as conn:
        keywords = {
            r[0]
            for r in conn.execute(
                "SELECT word FROM pg_catalog.pg_get_keywords() WHERE catcode <> 'U'"
            )
        }
        assert keywords == QUOTED_KEYWORDS
        for name in names:
            [(server,)] = conn.execute("SELECT pg_catalog.quote_ident(%s)", (name,)).fetchall()
            assert quote_ident(name) == server, name
            # The one-line forms for generated SQL name the same text and the same column.
            assert "\n" not in sql_ident(name) and "\n" not in sql_literal(name)
            [(back,)] = conn.execute(f"SELECT {sql_literal(name)}".encode()).fetchall()
            assert back == name
            if name and len(name.encode()) <= 63:
                cur = conn.execute(f"SELECT 1 AS {sql_ident(name)}".encode())
                assert cur.description is not None and cur.description[0].name == name
