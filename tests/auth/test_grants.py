"""`auditor grants`: the printed SQL really makes a least-privilege role that can run the scan
(applied to a real cluster), and bad input is a one-line error with exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor.collectors.pg.server import NEEDS_SUPERUSER
from auditor.commands.grants import grants_command
from auditor.config import parse_config
from auditor.grants import grants_sql
from auditor.lab.cluster import Cluster
from auditor.model import Status, TargetStatus
from auditor.runner import run_scan
from tests.auth.conftest import AUTH_CHECKS, HBA_CHECKS
from tests.conftest import target_yaml

ROLE = "grants_probe"
ROLE_PW = "grants-probe-test-pw"


def test_generic_sql_names_every_grant() -> None:
    sql = grants_sql()
    for line in (
        "GRANT pg_monitor TO auditor;",
        "GRANT SELECT ON pg_catalog.pg_hba_file_rules TO auditor;",
        "GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO auditor;",
        "GRANT SELECT ON pg_catalog.pg_file_settings TO auditor;",
        "GRANT EXECUTE ON FUNCTION pg_catalog.pg_show_all_file_settings() TO auditor;",
        "--   GRANT SELECT ON <schema>.<table> TO auditor;",
    ):
        assert line in sql.splitlines()
    assert "PASSWORD" not in sql


def test_role_names_are_quoted_and_pseudo_roles_refused() -> None:
    assert 'GRANT pg_monitor TO "Audit ""Bot""";' in grants_sql(role='Audit "Bot"')
    result = CliRunner().invoke(grants_command, ["--role", "public"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "auditor: error: role name 'public' is reserved; choose a dedicated scanning role"
    )


def test_bad_config_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets:\n  - name: x\n    dsn: mysql://h/db\n")
    result = CliRunner().invoke(grants_command, ["-c", str(bad)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and f"{bad}:3" in result.output
    result = CliRunner().invoke(grants_command, ["--target", "x"])
    assert result.exit_code == 2 and "--target goes with -c" in result.output


def _apply(cluster: Cluster, sql: str) -> None:
    """Run the script like psql would: `\\connect db` switches database."""
    chunks: list[tuple[str, list[str]]] = [("postgres", [])]
    for line in sql.splitlines():
        if line.startswith("\\connect "):
            chunks.append((line.split()[1], []))
        else:
            chunks[-1][1].append(line)
    for dbname, lines in chunks:
        with cluster.admin_connection(dbname) as conn:
            conn.execute("\n".join(lines).encode())
            conn.commit()


def test_printed_sql_gives_a_role_that_can_run_the_scan(
    compliant_cluster: Cluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config_text = "targets:\n" + target_yaml(
        "db",
        compliant_cluster.dsn(ROLE),
        password="{env: GRANTS_PROBE_PW}",
        sensitive_columns="[users.email, public.users.phone]",
    )
    config_file = tmp_path / "auditor.yaml"
    config_file.write_text(config_text)
    result = CliRunner().invoke(grants_command, ["-c", str(config_file)])
    assert result.exit_code == 0, result.output
    sql = result.output
    assert "\\connect app" in sql.splitlines()
    assert f"GRANT SELECT ON public.users TO {ROLE};" in sql.splitlines()
    assert sql.count(f"GRANT SELECT ON public.users TO {ROLE};") == 1

    _apply(compliant_cluster, sql)
    _apply(compliant_cluster, sql)  # re-running the script is harmless
    with compliant_cluster.admin_connection() as conn:  # the operator's \password step
        conn.execute(f"ALTER ROLE {ROLE} PASSWORD '{ROLE_PW}'")
        conn.commit()
    monkeypatch.setenv("GRANTS_PROBE_PW", ROLE_PW)
    results, bundles = run_scan(
        parse_config(config_text, "auditor.yaml"), tmp_path, check_ids=set(AUTH_CHECKS)
    )
    assert results.targets[0].status is TargetStatus.SCANNED
    statuses = {r.check_id: r.status for r in results.findings}
    assert all(statuses[c] is Status.PASS for c in HBA_CHECKS), results.findings
    [hashes] = [r for r in results.findings if r.check_id == "auth.role_password_hashes"]
    assert hashes.status is Status.SKIP and NEEDS_SUPERUSER in hashes.message
    from auditor.collectors.pg.server import ServerFacts

    server = bundles[0].get(ServerFacts)
    assert server.monitor_privileges and server.file_settings is not None
    assert set(server.unavailable) == {"password_kinds"}
    with compliant_cluster.admin_connection() as conn:
        conn.execute(f"SET ROLE {ROLE}")
        assert conn.execute("SELECT count(*) FROM public.users").fetchone() == (50,)
