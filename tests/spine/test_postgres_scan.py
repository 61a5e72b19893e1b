"""The scan path against real clusters: verdicts with evidence, read-only sessions, missing
privileges reported as GRANTs, broken targets isolated."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from auditor.collectors.base import CollectContext
from auditor.collectors.pg.server import ServerFacts
from auditor.collectors.pg.session import PgSession
from auditor.config import parse_config
from auditor.lab.cluster import Cluster, Variant
from auditor.model import Result, Status, TargetStatus
from auditor.runner import run_scan
from tests.conftest import (
    AUDITOR_PASSWORD,
    PG_VARIANTS,
    ClusterFactory,
    config_for,
    target_yaml,
)

SPINE_CHECKS = {"transport.ssl_enabled", "auth.password_encryption", "audit.connection_logging"}


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITOR_TEST_PW", AUDITOR_PASSWORD)


def _by_id(results: tuple[Result, ...]) -> dict[str, Result]:
    return {r.check_id: r for r in results if r.check_id in SPINE_CHECKS}


def _conf_line(cluster: Cluster, setting: str) -> str:
    """file:line of the last line that sets `setting` in the cluster's postgresql.conf."""
    conf = cluster.datadir / "postgresql.conf"
    lines = conf.read_text().splitlines()
    number = max(i for i, line in enumerate(lines, 1) if line.startswith(f"{setting} ="))
    return f"{conf}:{number}"


def test_compliant_cluster_passes_with_setting_evidence(compliant_cluster: Cluster) -> None:
    results, _ = run_scan(config_for(compliant_cluster), Path.cwd(), check_ids=SPINE_CHECKS)
    assert results.targets[0].status is TargetStatus.SCANNED
    found = _by_id(results.findings)
    assert {r.status for r in found.values()} == {Status.PASS}
    pe = found["auth.password_encryption"].evidence["password_encryption"]
    assert pe == {"setting": "password_encryption", "value": "scram-sha-256",
                  "source": _conf_line(compliant_cluster, "password_encryption")}
    ssl = found["transport.ssl_enabled"].evidence["ssl"]
    assert ssl["value"] == "on" and ssl["source"] == _conf_line(compliant_cluster, "ssl")


def test_weak_cluster_fails_with_the_offending_settings(weak_cluster: Cluster) -> None:
    results, _ = run_scan(config_for(weak_cluster), Path.cwd(), check_ids=SPINE_CHECKS)
    found = _by_id(results.findings)
    pe = found["auth.password_encryption"]
    assert pe.status is Status.FAIL
    assert pe.message == (
        f"password_encryption = md5 ({_conf_line(weak_cluster, 'password_encryption')})"
    )
    logging = found["audit.connection_logging"]
    assert logging.status is Status.FAIL
    assert f"log_connections = off ({_conf_line(weak_cluster, 'log_connections')})" in (
        logging.message
    )
    assert "log_disconnections = off (default)" in logging.message


def test_scan_session_cannot_write(compliant_cluster: Cluster) -> None:
    target = config_for(compliant_cluster).targets[0]
    session = PgSession.open(CollectContext(target, AUDITOR_PASSWORD, Path.cwd()))
    try:
        settings = session.rows(
            "SELECT current_setting('default_transaction_read_only') AS ro, "
            "current_setting('statement_timeout') AS st, "
            "current_setting('lock_timeout') AS lt, "
            "current_setting('application_name') AS app"
        )[0]
        assert settings == {"ro": "on", "st": "5s", "lt": "1s", "app": "auditor"}
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            session.rows("CREATE TEMP TABLE auditor_probe (x int)")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            session.rows("SELECT set_config('application_name', 'x', false); "
                         "CREATE TABLE auditor_probe (x int)")
    finally:
        session.close()


def test_missing_privileges_become_exact_grants(weak_cluster: Cluster) -> None:
    # The weak cluster's scanner has pg_monitor but none of the file-view grants.
    _, bundles = run_scan(config_for(weak_cluster), Path.cwd(), check_ids=SPINE_CHECKS)
    server = bundles[0].get(ServerFacts)
    assert server.hba_rules is None
    assert server.unavailable["hba_rules"] == (
        "GRANT SELECT ON pg_catalog.pg_hba_file_rules TO auditor; "
        "GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO auditor;"
    )
    assert "pg_show_all_file_settings() TO auditor" in server.unavailable["file_settings"]
    assert "superuser" in server.unavailable["password_kinds"]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (a hung server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_broken_targets_are_marked_and_never_stop_the_others(
    compliant_cluster: Cluster, silent_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WRONG_PW", "definitely-wrong-password")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    text = "targets:\n" + "".join([
        target_yaml("good", compliant_cluster.dsn("auditor"), password="{env: AUDITOR_TEST_PW}"),
        target_yaml("refused", f"postgresql://auditor@127.0.0.1:{closed_port}/app"),
        target_yaml("hung", f"postgresql://auditor@127.0.0.1:{silent_port}/app",
                    connect_timeout_seconds=2),
        target_yaml("wrong-password", compliant_cluster.dsn("auditor"),
                    password="{env: WRONG_PW}"),
        target_yaml("no-env", compliant_cluster.dsn("auditor"), password="{env: UNSET_PW_VAR}"),
    ])
    monkeypatch.delenv("UNSET_PW_VAR", raising=False)
    results, _ = run_scan(parse_config(text, "multi.yaml"), Path.cwd(), workers=3,
                          check_ids=SPINE_CHECKS)
    outcome = {t.name: t for t in results.targets}
    assert outcome["good"].status is TargetStatus.SCANNED
    assert outcome["refused"].status is TargetStatus.UNREACHABLE
    assert "Connection refused" in (outcome["refused"].error or "")
    assert outcome["hung"].status is TargetStatus.UNREACHABLE
    assert outcome["wrong-password"].status is TargetStatus.ERROR
    assert "password authentication failed" in (outcome["wrong-password"].error or "")
    assert outcome["no-env"].status is TargetStatus.ERROR
    assert "UNSET_PW_VAR is not set" in (outcome["no-env"].error or "")
    for name in ("refused", "hung", "no-env"):
        statuses = {f.status for f in results.findings if f.target == name}
        assert statuses == {Status.ERROR}, name
    assert all("\n" not in (t.error or "") for t in results.targets)
    # A failed login still gets the TLS probe's verdict; the SQL-side checks say why not.
    wrong = {f.check_id: f for f in results.findings if f.target == "wrong-password"}
    assert wrong["transport.ssl_enabled"].status is Status.PASS
    for check_id in ("auth.password_encryption", "audit.connection_logging"):
        assert wrong[check_id].status is Status.ERROR
        assert "password authentication failed" in wrong[check_id].message
    good = {f.check_id: f.status for f in results.findings if f.target == "good"}
    assert good == dict.fromkeys(SPINE_CHECKS, Status.PASS)


def test_a_target_over_its_time_budget_is_cut_off(
    compliant_cluster: Cluster, silent_port: int
) -> None:
    text = "targets:\n" + "".join([
        target_yaml("slow", f"postgresql://auditor@127.0.0.1:{silent_port}/app",
                    connect_timeout_seconds=4, target_timeout_seconds=1),
        target_yaml("good", compliant_cluster.dsn("auditor"), password="{env: AUDITOR_TEST_PW}"),
    ])
    results, _ = run_scan(parse_config(text, "t.yaml"), Path.cwd(), workers=2,
                          check_ids=SPINE_CHECKS)
    outcome = {t.name: t for t in results.targets}
    assert outcome["slow"].status is TargetStatus.ERROR
    assert outcome["slow"].error == "timed out after 1 s"
    assert outcome["good"].status is TargetStatus.SCANNED


# Statements a scan may send: reads, session setup and transaction control, nothing else.
READ_ONLY_STATEMENT = re.compile(r"^\s*(SELECT|WITH|SHOW|SET|RESET|BEGIN|COMMIT|ROLLBACK)\b", re.I)
LOGGED_STATEMENT = re.compile(r"^auditor\|.*?(?:statement|execute [^:]*): (.*)$", re.M)


def test_a_full_scan_only_reads(start_cluster: ClusterFactory,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Every statement the scanner sends, as the server logged it, is a read or session
    setup; none turns read-only off. Stronger than the session defaults alone: it also
    catches a later collector that would SET its way out of them."""
    design = Variant.from_dir(PG_VARIANTS / "column-design")
    cluster = start_cluster(Variant(
        name="logs-every-statement",
        settings=design.settings + "\nlog_statement = 'all'\nlog_line_prefix = '%a|'\n",
        hba=design.hba, seed_sql=design.seed_sql, tls=design.tls,
    ))
    monkeypatch.setenv("AUDITOR_TEST_PW", AUDITOR_PASSWORD)
    config = config_for(cluster, sensitive_columns="[users.email, users.phone]")
    results, _ = run_scan(config, Path.cwd())
    assert results.targets[0].status is TargetStatus.SCANNED
    sent = LOGGED_STATEMENT.findall(cluster.log_text())
    assert len(sent) > 20, "the server logged too few scanner statements to judge"
    assert any("pg_settings" in s for s in sent)
    assert any("users" in s and "email" in s for s in sent)  # the column sample too
    writes = [s for s in sent if not READ_ONLY_STATEMENT.match(s)]
    assert writes == []
    assert not [s for s in sent if re.search(r"read_only\s*(=|to)\s*'?(off|false)", s, re.I)]
