"""One server, all its databases (`databases: all`), on a real cluster with several databases:
`app` holds ciphertext (compliant), `weakdb` plaintext personal data (weak), `forbidden`
refuses the scanning role's CONNECT, `noconn` refuses every connection, `skipme` is excluded.
The TLS probe and the server-wide checks run once; the database checks once per database."""

from __future__ import annotations

import json
import os
import re
import socket
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import auditor
import auditor.collectors.tls as tls_collector
from auditor.catalog import all_checks
from auditor.check_scope import DATABASE, DATABASE_SECTIONS, SERVER, check_scope
from auditor.collectors.postgres import session_sections
from auditor.config import ConfigError, parse_config
from auditor.lab.cluster import Cluster, Variant
from auditor.model import ScanResults, Status, TargetStatus
from auditor.runner import run_scan
from auditor.server_scan import dsn_for_database
from tests.conftest import AUDITOR_PASSWORD, PG_VARIANTS, ClusterFactory
from tests.spine.test_cli import run_cli

SCHEMA = Path(auditor.__file__).parent / "schemas" / "results-v1.schema.json"
ENV = "AUDITOR_SERVER_DB_PW"
WEAK_TABLE = """CREATE TABLE users (id bigserial PRIMARY KEY, email text, backup_email text);
INSERT INTO users (email, backup_email)
SELECT 'user' || g || '@example.com', 'other' || g || '@example.org'
FROM generate_series(1, 40) g;
GRANT SELECT ON users TO auditor;"""


@pytest.fixture(scope="module")
def server(start_cluster: ClusterFactory) -> Cluster:
    compliant = PG_VARIANTS / "compliant"
    cluster = start_cluster(
        Variant(
            name="server-databases",
            settings=(compliant / "postgresql.conf").read_text(),
            hba=(compliant / "pg_hba.conf").read_text(),
            seed_sql=(compliant / "seed.sql").read_text(),
        )
    )
    with cluster.admin_connection("postgres", autocommit=True) as conn:
        have = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
        for name in ("weakdb", "forbidden", "noconn", "skipme"):
            if name not in have:
                conn.execute(f'CREATE DATABASE "{name}"')
        conn.execute("REVOKE CONNECT ON DATABASE forbidden FROM PUBLIC")
        conn.execute("ALTER DATABASE noconn ALLOW_CONNECTIONS false")
    with cluster.admin_connection("weakdb") as conn:
        if conn.execute("SELECT to_regclass('users')").fetchone() == (None,):
            conn.execute(WEAK_TABLE.encode())
            conn.commit()
    return cluster


def config_text(cluster: Cluster, **extra: str) -> str:
    lines = [
        "targets:",
        "  - name: srv",
        f"    dsn: '{cluster.dsn('auditor')}'",
        f"    password: {{env: {ENV}}}",
        "    sensitive_columns: [users.email]",
        *(f"    {key}: {value}" for key, value in extra.items()),
    ]
    return "\n".join(lines) + "\n"


def scan(text: str) -> tuple[ScanResults, int]:
    """Scan in-process, counting the live TLS probes (the real probe runs each time)."""
    calls: list[Any] = []
    real = tls_collector.probe

    def counting(request: Any) -> Any:
        calls.append(request)
        return real(request)

    os.environ[ENV] = AUDITOR_PASSWORD
    tls_collector.probe = counting  # type: ignore[assignment]
    try:
        results, _ = run_scan(parse_config(text, "srv.yaml"), Path.cwd())
    finally:
        tls_collector.probe = real  # type: ignore[assignment]
    return results, len(calls)


@pytest.fixture(scope="module")
def all_databases(server: Cluster) -> tuple[ScanResults, int]:
    return scan(config_text(server, databases="all", exclude_databases="[postgres, 'skip*']"))


def test_database_sections_are_the_session_sections_besides_the_server_one() -> None:
    assert session_sections() - {"postgres"} == DATABASE_SECTIONS


def test_tls_is_probed_once_for_the_whole_server(all_databases: tuple[ScanResults, int]) -> None:
    _, probes = all_databases
    assert probes == 1


def test_each_database_as_its_own_target_probes_tls_each_time(server: Cluster) -> None:
    """The count above can fail: two targets on the same server probe twice."""
    text = config_text(server) + (
        "  - name: other\n"
        f"    dsn: '{server.dsn('auditor', dbname='weakdb')}'\n"
        f"    password: {{env: {ENV}}}\n"
    )
    _, probes = scan(text)
    assert probes == 2


def test_server_findings_appear_once(all_databases: tuple[ScanResults, int]) -> None:
    results, _ = all_databases
    server_ids = {cid for cid, c in all_checks().items() if check_scope(c) == SERVER}
    for finding in results.findings:
        if finding.check_id in server_ids:
            assert finding.target == "srv", finding
        else:
            assert finding.target.startswith("srv/"), finding
    keys = [(f.check_id, f.resource) for f in results.findings if f.target == "srv"]
    assert len(keys) == len(set(keys))
    assert {f.check_id for f in results.findings if f.target == "srv"} >= {
        "transport.tls_min_version",
        "auth.hba_no_trust",
        "auth.password_encryption",
    }
    # A server weakness (pgaudit not loaded) is reported once, not once per database.
    pgaudit = [f for f in results.findings if f.check_id == "audit.pgaudit"]
    assert [(f.target, f.status) for f in pgaudit] == [("srv", Status.FAIL)]


def test_database_findings_per_database(all_databases: tuple[ScanResults, int]) -> None:
    results, _ = all_databases
    verdicts = {
        (f.target, f.resource): f.status
        for f in results.findings
        if f.check_id == "column.sensitive_encrypted"
    }
    assert verdicts == {
        ("srv/app", "users.email"): Status.PASS,
        ("srv/weakdb", "users.email"): Status.FAIL,
        ("srv/forbidden", None): Status.ERROR,
    }
    failed = [f for f in results.findings if f.status is Status.FAIL]
    pii = [f for f in failed if f.check_id == "column.plaintext_pii"]
    assert {(f.target, f.resource) for f in pii} == {("srv/weakdb", "users.backup_email")}
    installed = {
        f.target: f.status for f in results.findings if f.check_id == "column.pgcrypto_installed"
    }
    assert installed["srv/app"] is Status.PASS and installed["srv/weakdb"] is Status.FAIL


def test_templates_excluded_and_unconnectable_databases_are_skipped(
    all_databases: tuple[ScanResults, int],
) -> None:
    results, _ = all_databases
    names = [t.name for t in results.targets]
    assert names == ["srv", "srv/app", "srv/forbidden", "srv/weakdb"]
    server = results.targets[0]
    assert server.server is None and server.status is TargetStatus.SCANNED
    listed = (server.inventory or {})["databases"]
    assert listed["scanned"] == ["app", "weakdb"]
    assert listed["skipped"] == {
        "noconn": "does not allow connections (datallowconn = false)",
        "postgres": "excluded by exclude_databases",
        "skipme": "excluded by exclude_databases",
        "template0": "template database",
        "template1": "template database",
    }
    app = results.targets[1]
    assert (app.server, app.database, app.status) == ("srv", "app", TargetStatus.SCANNED)
    assert (app.inventory or {}).get("database") == "app"


def test_forbidden_database_is_one_error_line(all_databases: tuple[ScanResults, int]) -> None:
    results, _ = all_databases
    forbidden = next(t for t in results.targets if t.name == "srv/forbidden")
    assert forbidden.status is TargetStatus.ERROR
    assert forbidden.error is not None and "\n" not in forbidden.error
    assert "may not connect" in forbidden.error
    assert "GRANT CONNECT ON DATABASE forbidden TO auditor" in forbidden.error
    # Its database checks are not evaluated (never passed), the server's are unaffected.
    mine = [f for f in results.findings if f.target == "srv/forbidden"]
    assert mine and all(f.status is Status.ERROR for f in mine)
    assert all(check_scope(all_checks()[f.check_id]) == DATABASE for f in mine)


def test_listed_databases_only_and_a_missing_one(server: Cluster) -> None:
    results, probes = scan(config_text(server, databases="[weakdb, nosuchdb, template1]"))
    assert probes == 1
    by_name = {t.name: t for t in results.targets}
    assert set(by_name) == {"srv", "srv/nosuchdb", "srv/weakdb"}
    assert by_name["srv/nosuchdb"].error == "not scanned: no such database on this server"
    assert (by_name["srv"].inventory or {})["databases"]["skipped"] == {
        "template1": "template database"
    }


def test_without_databases_the_target_is_scanned_as_before(server: Cluster) -> None:
    results, probes = scan(config_text(server))
    assert probes == 1
    assert [(t.name, t.server, t.database) for t in results.targets] == [("srv", None, None)]
    assert "databases" not in (results.targets[0].inventory or {})
    ids = {f.check_id for f in results.findings}
    assert {"transport.tls_min_version", "column.sensitive_encrypted"} <= ids
    assert all(f.target == "srv" for f in results.findings)


def test_unreachable_server_is_one_target_and_waits_once(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: connection refused
    text = (
        "targets:\n  - name: gone\n"
        f"    dsn: 'postgresql://auditor@127.0.0.1:{port}/app?sslmode=require'\n"
        f"    password: {{env: {ENV}}}\n    databases: all\n    connect_timeout_seconds: 2\n"
    )
    started = time.monotonic()
    results, probes = scan(text)
    assert time.monotonic() - started < 10
    assert probes == 0
    assert [(t.name, t.status) for t in results.targets] == [("gone", TargetStatus.UNREACHABLE)]
    assert results.findings and all(f.status is Status.ERROR for f in results.findings)


def test_cli_results_validate_and_terminal_names_the_forbidden_database_once(
    server: Cluster, tmp_path: Path
) -> None:
    config = tmp_path / "srv.yaml"
    config.write_text(config_text(server, databases="all", exclude_databases="[postgres, 'skip*']"))
    env = {ENV: AUDITOR_PASSWORD}
    out = tmp_path / "results.json"
    proc = run_cli("scan", "-c", str(config), "--format", "json", "-o", str(out), env=env)
    assert proc.returncode == 1, proc.stderr  # the weak database fails
    document = json.loads(out.read_text())
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    parts = {t["name"]: t for t in document["targets"]}
    assert parts["srv/weakdb"]["server"] == "srv" and parts["srv/weakdb"]["database"] == "weakdb"
    assert "server" not in parts["srv"]
    terminal = run_cli("scan", "-c", str(config), "--fail-on", "critical", env=env)
    # One target line with the reason and one group line for its checks, not one per check
    # (control rows below may still name it among what they could not assess).
    lines = [
        line
        for line in terminal.stdout.splitlines()
        if "srv/forbidden" in line and "not assessed:" not in line
    ]
    assert len(lines) == 2, terminal.stdout
    assert lines[0].startswith("target srv/forbidden (postgres): error - not scanned: role")
    assert re.match(r"NOT EVALUATED \d+ checks on srv/forbidden:", lines[1]), lines[1]


def test_dsn_for_database_keeps_everything_but_the_database() -> None:
    dsn = "postgresql://u@h:5433/app?sslmode=verify-full&dbname=other&sslrootcert=ca.pem"
    assert dsn_for_database(dsn, "we ird/db") == (
        "postgresql://u@h:5433/we%20ird%2Fdb?sslmode=verify-full&sslrootcert=ca.pem"
    )


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ("    databases: some\n", "must be 'all' or a list of database names"),
        ("    databases: [a, '']\n", "targets[0].databases"),
    ],
)
def test_bad_databases_value_is_a_config_error(extra: str, words: str) -> None:
    text = "targets:\n  - name: s\n    dsn: postgresql://u@h/db\n" + extra
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yaml")
    assert words in str(caught.value) and "c.yaml:4" in str(caught.value)


def test_database_part_names_cannot_clash() -> None:
    base = "targets:\n  - name: {a}\n    dsn: postgresql://u@h/db\n    databases: all\n"
    with pytest.raises(ConfigError, match="may not hold '/'"):
        parse_config(base.format(a="a/b"), "c.yaml")
    clash = base.format(a="s") + "  - name: s/app\n    dsn: postgresql://u@h/app\n"
    with pytest.raises(ConfigError, match="clashes with the databases of target 's'"):
        parse_config(clash, "c.yaml")


def test_saved_facts_evaluate_to_the_same_findings_and_reports_group_databases(
    server: Cluster, tmp_path: Path
) -> None:
    config = tmp_path / "srv.yaml"
    config.write_text(config_text(server, databases="[app, weakdb]"))
    env = {ENV: AUDITOR_PASSWORD}
    scanned, facts = tmp_path / "scan.json", tmp_path / "facts"
    proc = run_cli(
        "scan", "-c", str(config), "--format", "json", "-o", str(scanned),
        "--save-facts", str(facts), env=env,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    bundles = sorted(str(p) for p in facts.glob("*.facts.json"))
    assert len(bundles) == 3  # the server and its two databases
    evaluated = tmp_path / "evaluated.json"
    proc = run_cli("evaluate", *bundles, "--format", "json", "-o", str(evaluated))
    assert proc.returncode == 1, proc.stderr

    def verdicts(path: Path) -> set[tuple[str, str, str | None, str]]:
        document = json.loads(path.read_text())
        return {
            (f["target"], f["check_id"], f["resource"], f["status"]) for f in document["findings"]
        }

    assert verdicts(evaluated) == verdicts(scanned)
    parts = {t["name"]: t.get("server") for t in json.loads(evaluated.read_text())["targets"]}
    assert parts == {"srv": None, "srv/app": "srv", "srv/weakdb": "srv"}

    html = tmp_path / "report.html"
    proc = run_cli("report", str(scanned), "--format", "html", "-o", str(html))
    assert proc.returncode == 0, proc.stderr
    page = html.read_text()
    # Appendix A lists each database indented under its server.
    row = '<td style="padding-left: 1.6em"><b>srv/weakdb</b> (postgres)'
    assert row in page
    assert page.index("<td><b>srv</b> (postgres)") < page.index(row)
    assert "databases scanned: app, weakdb" in page


def test_a_transport_only_scan_reads_no_database(server: Cluster) -> None:
    os.environ[ENV] = AUDITOR_PASSWORD
    config = parse_config(config_text(server, databases="all"), "srv.yaml")
    results, _ = run_scan(config, Path.cwd(), check_ids={"transport.tls_min_version"})
    assert [t.name for t in results.targets] == ["srv"]
    assert [(f.target, f.check_id) for f in results.findings] == [
        ("srv", "transport.tls_min_version")
    ]


def test_declared_columns_apply_where_their_table_exists(server: Cluster) -> None:
    text = config_text(server, databases="[app, skipme]").replace(
        "sensitive_columns: [users.email]", "sensitive_columns: [users.email, nosuch.col]"
    )
    results, _ = scan(text)
    verdicts = {
        (f.target, f.resource): (f.status, f.message)
        for f in results.findings
        if f.check_id == "column.sensitive_encrypted"
    }
    assert verdicts[("srv/app", "users.email")][0] is Status.PASS
    # skipme has no users table: a skip that says where the column is, not an error
    status, message = verdicts[("srv/skipme", "users.email")]
    assert status is Status.SKIP and "its table is not in this database" in message
    assert "found in app" in message
    # a declared column no database has stays an error everywhere (a typo in the config)
    for part in ("srv/app", "srv/skipme"):
        status, message = verdicts[(part, "nosuch.col")]
        assert status is Status.ERROR and "table nosuch not found" in message
    installed = {
        f.target: f.status for f in results.findings if f.check_id == "column.pgcrypto_installed"
    }
    assert installed == {"srv/app": Status.PASS, "srv/skipme": Status.FAIL}


HOSTILE_DB = 'skip\n"<b>odd/db'  # a name is data: quotes, markup, a slash and a newline


def test_a_hostile_database_name_is_scanned_as_data(server: Cluster, tmp_path: Path) -> None:
    with server.admin_connection("postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (HOSTILE_DB,)).fetchone():
            conn.execute("DROP DATABASE " + '"' + HOSTILE_DB.replace('"', '""') + '"')
        conn.execute("CREATE DATABASE " + '"' + HOSTILE_DB.replace('"', '""') + '"')
    config = tmp_path / "srv.yaml"
    config.write_text(config_text(server, databases=json.dumps([HOSTILE_DB, "app"])))
    out = tmp_path / "out"
    proc = run_cli(
        "scan", "-c", str(config), "--format", "json", "--format", "html", "--format", "sarif",
        "-o", str(out), "--save-facts", str(tmp_path / "facts"), env={ENV: AUDITOR_PASSWORD},
    )  # fmt: skip
    assert proc.returncode in (1, 3), proc.stderr
    assert "Traceback" not in proc.stderr
    document = json.loads((out / "results.json").read_text())
    part = next(t for t in document["targets"] if t.get("database") == HOSTILE_DB)
    assert part["name"] == f"srv/{HOSTILE_DB}" and part["status"] == "scanned", part
    assert any(f["target"] == part["name"] for f in document["findings"])
    assert "<b>odd" not in next(out.glob("*.html")).read_text()  # escaped, never markup
    assert len(list((tmp_path / "facts").glob("*.facts.json"))) == 3
    # SARIF anchors a database's findings to the line declaring its server target
    sarif = json.loads((out / "results.sarif").read_text())["runs"][0]["results"]
    lines = {r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in sarif}
    assert sarif and lines == {2}


def test_grants_cover_each_listed_database() -> None:
    from auditor.grants import grants_sql

    base = "targets:\n  - name: s\n    dsn: postgresql://auditor@h/postgres\n"
    listed = grants_sql(parse_config(base + "    databases: [app, billing]\n", "c.yaml"))
    assert "\\connect app\n" in listed and "\\connect billing\n" in listed
    assert "\\connect postgres" not in listed
    every = grants_sql(parse_config(base + "    databases: all\n", "c.yaml"))
    assert "(databases: all) - run this part in each" in every and "\\connect" not in every
