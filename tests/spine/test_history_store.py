"""The history store (auditor/store) on SQLite and on a real PostgreSQL database: location
parsing, migrations, round trips, finding lifecycle, retention, import of old folders."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from auditor.formatters.json_results import results_to_dict
from auditor.model import Result, ScanResults, Severity, Status, TargetOutcome, TargetStatus
from auditor.store import HistoryDB, StoreError, StoreLocationError, parse_location, with_lifecycle
from tests.spine.test_cli import run_cli

SCOPE = ("audit.z", "auth.x", "column.y")


def _run(
    run_id: str,
    day: int,
    *findings: tuple[str, str | None, Status],
    target_status: TargetStatus = TargetStatus.SCANNED,
) -> ScanResults:
    return ScanResults(
        run_id,
        f"2026-01-{day:02d}T00:00:00Z",
        f"2026-01-{day:02d}T00:05:00Z",
        (TargetOutcome("db", "postgres", target_status),),
        tuple(
            Result(cid, "db", st, Severity.HIGH, cid, "m", resource=res)
            for cid, res, st in sorted(findings, key=lambda f: (f[0], f[1] or ""))
        ),
        "0",
        scope=SCOPE,
    )


# -- where the store lives ---------------------------------------------------------------------


def test_locations(tmp_path: Path) -> None:
    plain = parse_location(str(tmp_path / "new" / "h.db"))
    assert plain.is_sqlite and plain.url.database == str(tmp_path / "new" / "h.db")
    assert (tmp_path / "new").is_dir()  # its folder is made, the file is not yet
    assert parse_location(f"sqlite:///{tmp_path}/x.db").url.database == f"{tmp_path}/x.db"
    pg = parse_location("postgresql://u:Canary-pw@db.example:5433/hist")
    assert pg.url.drivername == "postgresql+psycopg" and "Canary" not in pg.label
    assert parse_location("postgres://u@h/d").url.drivername == "postgresql+psycopg"
    for bad, message in (
        ("s3://bucket/runs", "'s3' URLs are not supported"),
        ("sqlite://", "in-memory SQLite database would lose every run"),
        ("sqlite:///:memory:", "in-memory"),
        (str(tmp_path), "auditor history import"),
    ):
        with pytest.raises(StoreLocationError, match=message):
            parse_location(bad)


def test_default_store_is_in_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert parse_location("default").url.database == str(tmp_path / "data/auditor/history.db")


def test_unusable_stores_are_one_line_without_password(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("this is not a database " * 100)
    with pytest.raises(StoreError, match=r"junk\.db: file is not a database"):
        HistoryDB.open(str(junk))
    with pytest.raises(StoreError) as caught:
        HistoryDB.open("postgresql://auditor:Canary-pw-9@127.0.0.1:1/hist?connect_timeout=2")
    assert "Canary-pw-9" not in str(caught.value) and "\n" not in str(caught.value)


def test_new_sqlite_store_waits_for_a_writer_instead_of_failing(tmp_path: Path) -> None:
    """A file still in rollback mode whose write lock another process holds: switching it to
    WAL fails at once in SQLite, busy_timeout or not (what eight shards opening one new store
    together ran into). The store waits for the writer, then opens."""
    path = tmp_path / "history.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE unrelated (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO unrelated VALUES (1)")
    releaser = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    releaser.start()
    try:
        with HistoryDB.open(str(path)) as store:
            assert store.schema_revision()
    finally:
        releaser.join()
        holder.close()
    check = sqlite3.connect(path)
    try:
        assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        check.close()


# -- on SQLite and PostgreSQL ------------------------------------------------------------------


def test_schema_is_migrated_and_queryable(history_url: str) -> None:
    with HistoryDB.open(history_url) as store:
        assert store.schema_revision() == "0001"
        tables = set(inspect(store.engine).get_table_names())
    assert {"runs", "run_shards", "run_scope", "run_targets", "findings"} <= tables
    assert "evidence_digests" in tables and "alembic_version" in tables
    with HistoryDB.open(history_url) as again:  # a second open finds nothing to do
        assert again.schema_revision() == "0001"


def test_round_trip_list_find_and_sql_for_grafana(history_url: str) -> None:
    first = _run("run-a1", 1, ("auth.x", None, Status.FAIL), ("column.y", "t.c", Status.PASS))
    with HistoryDB.open(history_url) as store:
        saved = with_lifecycle(first, store)
        store.save(saved, evidence={"db": ("ab" * 32, 1234)})
        loaded = store.load("run-a1")
        assert results_to_dict(loaded) == results_to_dict(saved)
        assert store.find("run-a") == "run-a1"
        with pytest.raises(StoreError, match="no run matching 'zzz'"):
            store.find("zzz")
        # The tables answer a GRC tool's question directly: what fails, since when.
        with store.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT f.check_id, f.status, f.first_seen_run, d.sha256 FROM findings f "
                    "JOIN evidence_digests d ON d.run_id = f.run_id AND d.target = f.target "
                    "WHERE f.status = 'fail'"
                )
            ).all()
        assert [tuple(r) for r in rows] == [("auth.x", "fail", "run-a1", "ab" * 32)]


def test_lifecycle_survives_a_broken_run_and_restarts_after_a_fix(history_url: str) -> None:
    runs = [
        _run("r1", 1, ("auth.x", None, Status.FAIL), ("audit.z", None, Status.PASS)),
        # The login broke: nothing evaluated, the age keeps counting from r1.
        _run("r2", 2, ("auth.x", None, Status.ERROR), target_status=TargetStatus.ERROR),
        _run("r3", 3, ("auth.x", None, Status.FAIL), ("audit.z", None, Status.FAIL)),
        _run("r4", 4, ("auth.x", None, Status.PASS), ("audit.z", None, Status.FAIL)),
        _run("r5", 5, ("auth.x", None, Status.FAIL), ("audit.z", None, Status.WAIVED)),
    ]
    with HistoryDB.open(history_url) as store:
        for results in runs:
            store.save(with_lifecycle(results, store))
        life = {(f.check_id): f.lifecycle for f in store.load("r5").findings}
        r3 = {(f.check_id): f.lifecycle for f in store.load("r3").findings}
    assert r3["auth.x"] == {
        "first_seen": "2026-01-01T00:00:00Z",
        "first_seen_run": "r1",
        "last_seen": "2026-01-03T00:05:00Z",
        "age_days": 2,
    }
    assert r3["audit.z"]["first_seen_run"] == "r3"  # passed in r1: new in r3
    assert life["auth.x"]["first_seen_run"] == "r5"  # fixed in r4, failing again since r5
    assert life["audit.z"]["first_seen_run"] == "r3" and life["audit.z"]["age_days"] == 2


def test_prune_keeps_recent_runs(history_url: str) -> None:
    with HistoryDB.open(history_url) as store:
        for i in (1, 10, 20):
            store.save(_run(f"p{i}", i, ("auth.x", None, Status.FAIL)))
        removed = store.prune(5, now=dt.datetime(2026, 1, 21, tzinfo=dt.UTC))
        assert removed == 2 and [r.id for r in store.runs()] == ["p20"]
        with store.engine.connect() as conn:
            left = conn.execute(text("SELECT DISTINCT run_id FROM findings")).scalars().all()
        assert left == ["p20"]
    proc = run_cli("history", "prune", "--keep-days", "0", "--history", history_url)
    assert proc.returncode == 0 and "removed 1 run(s)" in proc.stdout


def test_history_commands(history_url: str, tmp_path: Path) -> None:
    with HistoryDB.open(history_url) as store:
        store.save(_run("c1", 1, ("auth.x", None, Status.FAIL)))
        store.save(_run("c2", 2, ("auth.x", None, Status.PASS)))
    proc = run_cli("history", "list", "--format", "json", env={"AUDITOR_HISTORY": history_url})
    assert proc.returncode == 0, proc.stderr
    assert [r["id"] for r in json.loads(proc.stdout)] == ["c1", "c2"]
    proc = run_cli("history", "show", "c1", "--history", history_url, "--format", "json")
    assert json.loads(proc.stdout)["findings"][0]["status"] == "fail"
    proc = run_cli("history", "show", "c1", "--history", history_url)
    assert "fail   auth.x" in proc.stdout
    proc = run_cli("diff", "--history", history_url, "--format", "json")
    assert proc.returncode == 0 and json.loads(proc.stdout)[0]["change"] == "fixed"
    proc = run_cli("diff", "--history", history_url, "--from", "c2", "--to", "c1")
    assert proc.returncode == 1 and "new failure" in proc.stdout
    proc = run_cli("history", "show", "nope", "--history", history_url)
    assert proc.returncode == 2 and "no run matching 'nope'" in proc.stderr


def test_import_of_an_old_history_folder(tmp_path: Path) -> None:
    folder = tmp_path / "old-history"
    folder.mkdir()
    for name, results in (
        ("20260101-a.results.json", _run("i1", 1, ("auth.x", None, Status.FAIL))),
        ("20260102-b.results.json", _run("i2", 2, ("auth.x", None, Status.FAIL))),
    ):
        (folder / name).write_text(json.dumps(results_to_dict(replace(results, scope=None))))
    store = str(tmp_path / "h.db")
    proc = run_cli("scan", "--dsn", "postgresql://h/db", "--history", str(folder))
    assert proc.returncode == 2 and f"auditor history import {folder}" in proc.stderr
    proc = run_cli("history", "import", str(folder), "--history", store)
    assert proc.returncode == 0 and "imported 2 run(s) of 2" in proc.stdout, proc.stderr
    proc = run_cli("history", "import", str(folder), "--history", store)
    assert "imported 0 run(s) of 2" in proc.stdout  # idempotent
    with HistoryDB.open(store) as db:
        life = db.load("i2").findings[0].lifecycle
    assert life is not None and life["first_seen_run"] == "i1"


def test_sqlite_file_is_one_engine_url_to_an_external_reader(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with HistoryDB.open(str(path)) as store:
        store.save(_run("x1", 1, ("auth.x", None, Status.FAIL)))
    engine = create_engine(f"sqlite:///{path}")  # what a Grafana SQLite source would do
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM runs")).scalar() == 1
    engine.dispose()


def test_lifecycle_in_results_json_schema_and_html_report(tmp_path: Path) -> None:
    import jsonschema

    from auditor.formatters.base import RenderOptions
    from auditor.formatters.html import render_html
    from tests.report.sample import sample_results
    from tests.spine.test_cli import SCHEMA

    base = sample_results()
    with HistoryDB.open(str(tmp_path / "h.db")) as store:
        earlier = replace(
            base,
            run_id="earlier",
            started_at="2026-11-01T09:00:00Z",
            finished_at="2026-11-01T09:00:07Z",
        )
        store.save(with_lifecycle(earlier, store))
        dated = with_lifecycle(base, store)
    failing = [f for f in dated.findings if f.status is Status.FAIL]
    assert failing and all(f.lifecycle and f.lifecycle["age_days"] == 19 for f in failing)
    assert all(f.lifecycle is None for f in dated.findings if f.status is Status.PASS)
    jsonschema.validate(results_to_dict(dated), json.loads(SCHEMA.read_text()))
    html = render_html(dated, RenderOptions())
    assert "failing since 2026-11-01 (19 days)" in html
    assert "failing since" not in render_html(base, RenderOptions())


def test_hostile_text_with_nul_characters_is_stored(history_url: str) -> None:
    hostile = _run("nul", 1, ("auth.x", "t\x00able", Status.FAIL))
    hostile = replace(
        hostile,
        findings=tuple(
            replace(f, message="bad\x00byte", evidence={"k\x00": ["v\x00"]})
            for f in hostile.findings
        ),
    )
    with HistoryDB.open(history_url) as store:
        store.save(hostile)
        found = store.load("nul").findings[0]
    assert found.resource == "t\ufffdable" and found.message == "bad\ufffdbyte"
    assert found.evidence == {"k\ufffd": ["v\ufffd"]}
