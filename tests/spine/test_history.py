"""History of scheduled scans and `auditor diff`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from auditor.formatters.json_results import results_to_dict
from auditor.history import diff_results
from auditor.lab.cluster import Cluster, Variant, running
from auditor.model import Result, ScanResults, Severity, Status, TargetOutcome, TargetStatus
from tests.conftest import AUDITOR_PASSWORD, PG_VARIANTS, target_yaml
from tests.spine.test_cli import SPINE, run_cli, write_config


def _run(run_id: str, finished: str, *findings: tuple[str, str | None, Status]) -> ScanResults:
    return ScanResults(
        run_id,
        "2026-01-01T00:00:00Z",
        finished,
        (TargetOutcome("db", "postgres", TargetStatus.SCANNED),),
        tuple(
            Result(cid, "db", st, Severity.HIGH, cid, "m", resource=res)
            for cid, res, st in findings
        ),
        "0",
    )


OLD = _run(
    "a",
    "2026-01-01T00:00:01Z",
    ("auth.x", None, Status.FAIL),
    ("column.y", "users.email", Status.PASS),
    ("audit.z", None, Status.FAIL),
    ("transport.w", None, Status.ERROR),
    ("auth.v", None, Status.FAIL),
    ("auth.u", None, Status.PASS),
    ("column.y", "users.gone", Status.PASS),
)
NEW = _run(
    "b",
    "2026-01-02T00:00:01Z",
    ("auth.x", None, Status.PASS),
    ("column.y", "users.email", Status.FAIL),
    ("audit.z", None, Status.FAIL),
    ("transport.w", None, Status.PASS),
    ("column.y", "users.phone", Status.FAIL),
    ("auth.v", None, Status.ERROR),
    ("auth.u", None, Status.PASS),
    ("column.y", "users.fax", Status.PASS),
)


def _changes(old: ScanResults, new: ScanResults) -> dict[tuple[str, str | None], str]:
    return {(c["check_id"], c["resource"]): c["change"] for c in diff_results(old, new).as_list()}


def test_diff_names_every_kind_of_change() -> None:
    assert _changes(OLD, NEW) == {
        ("auth.x", None): "fixed",
        ("column.y", "users.email"): "new_failure",
        ("column.y", "users.phone"): "new_failure",
        ("audit.z", None): "still_failing",
        ("auth.v", None): "not_evaluated",  # a failure that now errors is not "resolved"
        ("column.y", "users.fax"): "new",
        ("column.y", "users.gone"): "gone",
    }  # transport.w error -> pass and auth.u pass -> pass are not listed
    changes = diff_results(OLD, NEW)
    assert changes.unchanged == 2 and changes.exit_code() == 1
    assert set(diff_results(NEW, NEW).as_list()[0]) == {
        "check_id",
        "target",
        "resource",
        "before",
        "after",
        "change",
        "severity",
    }
    assert diff_results(NEW, NEW).exit_code() == 0


def test_a_failure_whose_target_broke_is_not_evaluated_and_exits_3() -> None:
    broken = ScanResults(
        "c",
        "2026-01-03T00:00:00Z",
        "2026-01-03T00:00:01Z",
        (TargetOutcome("db", "postgres", TargetStatus.ERROR, "password authentication failed"),),
        # A check that answered from what little was collected still does not prove a fix.
        (
            Result("audit.z", "db", Status.PASS, Severity.HIGH, "t", "m"),
            Result("auth.x", "db", Status.ERROR, Severity.HIGH, "t", "target error"),
        ),
        "0",
        scope=("audit.z", "auth.x", "column.y"),
    )
    changes = _changes(NEW, broken)
    assert changes[("audit.z", None)] == "not_evaluated"
    # column.y failed on users.email/phone and reported nothing now: not evaluated either.
    assert changes[("column.y", "users.email")] == "not_evaluated"
    assert "fixed" not in changes.values()
    assert diff_results(NEW, broken).exit_code() == 3


def test_diff_compares_only_the_shared_scope() -> None:
    subset = replace(
        OLD, findings=tuple(f for f in OLD.findings if f.check_id == "auth.x"), scope=("auth.x",)
    )
    full = replace(NEW, scope=tuple(sorted({f.check_id for f in NEW.findings})))
    assert _changes(subset, full) == {("auth.x", None): "fixed"}
    assert diff_results(subset, full).out_of_scope == len(full.findings) - 1
    assert diff_results(subset, full).exit_code() == 0


def test_diff_command_exit_codes_and_json(tmp_path: Path) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(results_to_dict(OLD)))
    new.write_text(json.dumps(results_to_dict(NEW)))
    proc = run_cli("diff", str(old), str(new))
    assert proc.returncode == 1
    assert "2 new failure(s), 1 fixed, 1 still failing, 1 not evaluated" in proc.stdout
    proc = run_cli("diff", str(old), str(new), "--format", "json")
    assert {c["change"] for c in json.loads(proc.stdout)} == {
        "fixed",
        "new_failure",
        "still_failing",
        "not_evaluated",
        "new",
        "gone",
    }
    assert run_cli("diff", str(new), str(new)).returncode == 0  # nothing new
    assert run_cli("diff", str(new), str(old)).returncode == 1  # auth.x fails again
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    proc = run_cli("diff", str(broken), str(new))
    assert proc.returncode == 2 and "broken.json:1: not valid JSON" in proc.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://bucket/runs", "'s3' URLs are not supported"),
        ("sqlite://", "in-memory SQLite database would lose every run"),
        # Unreachable: refused before scanning, the password never shown.
        ("postgresql://auditor:Canary-pw@127.0.0.1:1/history", "history postgresql"),
    ],
)
def test_unusable_history_url_is_refused_not_turned_into_a_folder(
    tmp_path: Path, url: str, message: str
) -> None:
    proc = run_cli("scan", "--dsn", "postgresql://h/db", "--history", url, cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert "Canary" not in proc.stderr
    assert list(tmp_path.iterdir()) == []  # no 's3:' or 'sqlite:' folder appeared
    proc = run_cli("diff", "--history", url, cwd=tmp_path)
    assert proc.returncode == 2 and message in proc.stderr and "Canary" not in proc.stderr


def _runs(history: str) -> list[dict[str, object]]:
    proc = run_cli("history", "list", "--history", history, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    runs: list[dict[str, object]] = json.loads(proc.stdout)
    return runs


def _stored(history: str, run: str) -> dict[str, object]:
    proc = run_cli("history", "show", run, "--history", history, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    document: dict[str, object] = json.loads(proc.stdout)
    return document


def test_scan_history_keeps_runs_and_reports_changes(
    compliant_cluster: Cluster, tmp_path: Path, history_url: str
) -> None:
    config = write_config(
        tmp_path, target_yaml("db", compliant_cluster.dsn("auditor"), password="{env: PW}")
    )
    history = history_url
    for _ in range(2):
        proc = run_cli(
            "scan",
            "-c",
            str(config),
            "--history",
            str(history),
            *SPINE,
            env={"PW": AUDITOR_PASSWORD},
        )
        assert proc.returncode == 0, proc.stderr
    assert "0 new failure(s), 0 fixed" in proc.stderr and "history: run " in proc.stderr
    runs = _runs(history)
    assert len(runs) == 2
    run = _stored(history, str(runs[-1]["id"]))["run"]
    assert isinstance(run, dict) and run["scope"] == sorted(SPINE[1::2])


# -- on a private weak cluster that the tests change between scans ---------------------------


@pytest.fixture(scope="module")
def mutable_weak(pg_available: None) -> Iterator[Cluster]:
    with running(Variant.from_dir(PG_VARIANTS / "weak")) as cluster:
        yield cluster


def _logging(cluster: Cluster, value: str) -> None:
    with cluster.admin_connection(autocommit=True) as conn:
        for setting in ("log_connections", "log_disconnections"):
            conn.execute(f"ALTER SYSTEM SET {setting} = '{value}'")
    cluster.reload()


def _diff_json(history: str) -> tuple[int, list[dict[str, object]]]:
    proc = run_cli("diff", "--history", history, "--format", "json")
    assert proc.returncode in (0, 1, 3), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_history_on_a_real_cluster_fix_broken_login_subset(
    mutable_weak: Cluster, tmp_path: Path, history_url: str
) -> None:
    config = write_config(
        tmp_path, target_yaml("weak", mutable_weak.dsn("auditor"), password="{env: PW}")
    )
    history = history_url

    def scan(*extra: str, password: str = AUDITOR_PASSWORD) -> int:
        proc = run_cli(
            "scan", "-c", str(config), "--history", history, *extra, env={"PW": password}
        )
        assert "Traceback" not in proc.stderr
        return proc.returncode

    # 1. weak: connection logging off fails; fixed in the cluster; the second scan says fixed.
    _logging(mutable_weak, "off")
    assert scan(*SPINE) == 1
    _logging(mutable_weak, "on")
    assert scan(*SPINE) == 1  # password_encryption md5 still fails
    code, changes = _diff_json(history)
    assert code == 0
    assert {(c["check_id"], c["change"]) for c in changes} == {
        ("audit.connection_logging", "fixed"),
        ("auth.password_encryption", "still_failing"),
    }

    # 2. the next scan cannot log in: the md5 failure is not evaluated, never "fixed".
    assert scan(*SPINE, password="wrong-password") == 3
    code, changes = _diff_json(history)
    assert code == 3
    by_check = {c["check_id"]: c for c in changes}
    assert by_check["auth.password_encryption"]["change"] == "not_evaluated"
    assert by_check["auth.password_encryption"]["before"] == "fail"
    assert by_check["auth.password_encryption"]["after"] == "error"
    assert "fixed" not in {c["change"] for c in changes}
    proc = run_cli("diff", "--history", history)
    assert proc.returncode == 3 and "0 fixed" in proc.stdout
    assert "auth.password_encryption                 weak: fail -> error" in proc.stdout

    # 3. a one-check run, then a wider run: nothing outside the subset counts as new.
    _logging(mutable_weak, "off")
    assert scan("--check", "transport.ssl_enabled") == 0
    assert scan(*SPINE) == 1  # md5 and logging fail, but both were outside the subset
    code, changes = _diff_json(history)
    assert code == 0, changes
    assert [c["check_id"] for c in changes] == []  # ssl passed both times
    proc = run_cli("diff", "--history", history)
    assert "0 new failure(s)" in proc.stdout and "not compared" in proc.stdout


def test_saved_facts_re_evaluate_offline_to_the_same_verdicts(
    weak_cluster: Cluster, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path, target_yaml("weak", weak_cluster.dsn("auditor"), password="{env: PW}")
    )
    live = tmp_path / "live.json"
    proc = run_cli(
        "scan",
        "-c",
        str(config),
        "--format",
        "json",
        "-o",
        str(live),
        "--save-facts",
        str(tmp_path / "facts"),
        env={"PW": AUDITOR_PASSWORD},
    )
    assert proc.returncode == 1, proc.stderr
    offline = tmp_path / "offline.json"
    proc = run_cli(
        "evaluate",
        str(tmp_path / "facts" / "weak.facts.json"),
        "--format",
        "json",
        "-o",
        str(offline),
    )
    assert proc.returncode == 1, proc.stderr

    def verdicts(path: Path) -> set[tuple[str, str | None, str, str]]:
        doc = json.loads(path.read_text())
        return {(f["check_id"], f["resource"], f["status"], f["message"]) for f in doc["findings"]}

    assert verdicts(live) == verdicts(offline)


def test_baseline_new_only_gates_only_on_new_weaknesses(
    mutable_weak: Cluster, tmp_path: Path, history_url: str
) -> None:
    config = write_config(
        tmp_path, target_yaml("weak", mutable_weak.dsn("auditor"), password="{env: PW}")
    )
    history = history_url

    def scan(*extra: str) -> subprocess.CompletedProcess[str]:
        proc = run_cli(
            "scan",
            "-c",
            str(config),
            "--history",
            history,
            *SPINE,
            *extra,
            env={"PW": AUDITOR_PASSWORD},
        )
        assert "Traceback" not in proc.stderr
        return proc

    _logging(mutable_weak, "on")
    assert scan().returncode == 1  # md5 password hashing fails: the weak starting point
    first_id = str(_runs(history)[-1]["id"])
    first = tmp_path / "first.results.json"
    first.write_text(json.dumps(_stored(history, first_id)))
    proc = scan("--baseline", "last", "--new-only")
    assert proc.returncode == 0, proc.stderr  # unchanged weak database: nothing new
    assert "against baseline" in proc.stderr and "0 new failure(s)" in proc.stderr
    assert scan("--baseline", str(first)).returncode == 1  # without --new-only: the usual gate
    lifecycle = [f.get("lifecycle") for f in _stored(history, str(_runs(history)[-1]["id"]))[
        "findings"] if isinstance(f, dict) and f["status"] == "fail"]  # fmt: skip
    assert lifecycle and all(life and life["first_seen_run"] == first_id for life in lifecycle)

    _logging(mutable_weak, "off")  # a new weakness appears between runs
    proc = scan("--baseline", "last", "--new-only")
    assert proc.returncode == 1, proc.stderr
    assert "1 new failure(s)" in proc.stderr
    proc = scan("--baseline", str(first), "--new-only")  # a results file works the same
    assert proc.returncode == 1
    proc = scan("--baseline", first_id[:8], "--new-only")  # and a run id in the store
    assert proc.returncode == 1 and f"against baseline {first_id[:8]}" in proc.stderr
    # --fail-on still applies on top: the new (medium) failure is below high.
    assert scan("--baseline", str(first), "--new-only", "--fail-on", "high").returncode == 0


def test_baseline_usage_errors(tmp_path: Path) -> None:
    for args, message in (
        (["--new-only"], "--new-only needs --baseline"),
        (["--baseline", "last"], "--baseline last needs --history URL"),
        (["--baseline", str(tmp_path / "nope.json")], "nope.json: results file not found"),
    ):
        proc = run_cli("scan", "--dsn", "postgresql://h/db", *args)
        assert proc.returncode == 2, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr
