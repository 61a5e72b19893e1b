"""History of scheduled scans and `auditor diff`."""

from __future__ import annotations

import json
from pathlib import Path

from auditor.formatters.json_results import results_to_dict
from auditor.history import HistoryStore, diff_results
from auditor.lab.cluster import Cluster
from auditor.model import Result, ScanResults, Severity, Status, TargetOutcome, TargetStatus
from tests.conftest import AUDITOR_PASSWORD, target_yaml
from tests.spine.test_cli import SPINE, run_cli, write_config


def _run(run_id: str, finished: str, *findings: tuple[str, str | None, Status]) -> ScanResults:
    return ScanResults(
        run_id, "2026-01-01T00:00:00Z", finished,
        (TargetOutcome("db", "postgres", TargetStatus.SCANNED),),
        tuple(Result(cid, "db", st, Severity.HIGH, cid, "m", resource=res)
              for cid, res, st in findings),
        "0",
    )


OLD = _run("a", "2026-01-01T00:00:01Z",
           ("auth.x", None, Status.FAIL), ("column.y", "users.email", Status.PASS),
           ("audit.z", None, Status.FAIL), ("transport.w", None, Status.ERROR))
NEW = _run("b", "2026-01-02T00:00:01Z",
           ("auth.x", None, Status.PASS), ("column.y", "users.email", Status.FAIL),
           ("audit.z", None, Status.FAIL), ("transport.w", None, Status.PASS),
           ("column.y", "users.phone", Status.FAIL))


def test_diff_sorts_changes_into_new_resolved_and_other() -> None:
    changes = diff_results(OLD, NEW)
    assert [c.key for c in changes.new_failures] == [
        ("db", "column.y", "users.email"), ("db", "column.y", "users.phone")]
    assert [c.key for c in changes.resolved] == [("db", "auth.x", "")]
    assert [(c.key, c.before, c.after) for c in changes.other_changes] == [
        (("db", "transport.w", ""), Status.ERROR, Status.PASS)]
    assert changes.unchanged == 1
    assert diff_results(NEW, NEW).new_failures == ()


def test_diff_command_exit_code_follows_new_failures(tmp_path: Path) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(results_to_dict(OLD)))
    new.write_text(json.dumps(results_to_dict(NEW)))
    proc = run_cli("diff", str(old), str(new))
    assert proc.returncode == 1
    assert "2 new failure(s), 1 resolved" in proc.stdout
    assert run_cli("diff", str(new), str(new)).returncode == 0  # nothing new
    assert run_cli("diff", str(new), str(old)).returncode == 1  # auth.x fails again
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    proc = run_cli("diff", str(broken), str(new))
    assert proc.returncode == 2 and "broken.json:1: not JSON" in proc.stderr


def test_scan_history_keeps_runs_and_reports_changes(compliant_cluster: Cluster,
                                                     tmp_path: Path) -> None:
    config = write_config(tmp_path, target_yaml("db", compliant_cluster.dsn("auditor"),
                                                password="{env: PW}"))
    history = tmp_path / "history"
    for _ in range(2):
        proc = run_cli("scan", "-c", str(config), "--history", str(history), *SPINE,
                       env={"PW": AUDITOR_PASSWORD})
        assert proc.returncode == 0, proc.stderr
    assert "since the last run: 0 new failure(s), 0 resolved" in proc.stderr
    assert len(HistoryStore(history).runs()) == 2


def test_saved_facts_re_evaluate_offline_to_the_same_verdicts(weak_cluster: Cluster,
                                                              tmp_path: Path) -> None:
    config = write_config(tmp_path, target_yaml("weak", weak_cluster.dsn("auditor"),
                                                password="{env: PW}"))
    live = tmp_path / "live.json"
    proc = run_cli("scan", "-c", str(config), "--format", "json", "-o", str(live),
                   "--save-facts", str(tmp_path / "facts"), env={"PW": AUDITOR_PASSWORD})
    assert proc.returncode == 1, proc.stderr
    offline = tmp_path / "offline.json"
    proc = run_cli("evaluate", str(tmp_path / "facts" / "weak.facts.json"), "--format", "json",
                   "-o", str(offline))
    assert proc.returncode == 1, proc.stderr

    def verdicts(path: Path) -> set[tuple[str, str | None, str, str]]:
        doc = json.loads(path.read_text())
        return {(f["check_id"], f["resource"], f["status"], f["message"])
                for f in doc["findings"]}

    assert verdicts(live) == verdicts(offline)
