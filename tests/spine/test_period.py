"""`auditor report --period FROM..TO`: per control, the runs of the period, pass rate, the
longest failing stretch, gaps in the cadence and a trend chart, from a history store."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from auditor.frameworks import controls_for
from auditor.model import Result, ScanResults, Severity, Status, TargetOutcome, TargetStatus
from auditor.period import PeriodError, parse_period, period_evidence
from auditor.store import HistoryDB
from tests.spine.test_cli import run_cli

CHECK = "audit.connection_logging"  # the only check of PCI DSS 4.0.1 10.2.1.4
# Day of March 2026 -> the check's verdict that day; days 6 and 7 have no run at all.
DAYS = {
    1: Status.PASS,
    2: Status.FAIL,
    3: Status.ERROR,  # the login broke: not assessed, the failing stretch goes on
    4: Status.FAIL,
    5: Status.PASS,
    8: Status.FAIL,
    9: Status.FAIL,
    10: Status.PASS,
}


def _run(day: int, status: Status) -> ScanResults:
    broken = status is Status.ERROR
    return ScanResults(
        f"run-{day:02d}",
        f"2026-03-{day:02d}T12:00:00Z",
        f"2026-03-{day:02d}T12:01:00Z",
        (
            TargetOutcome(
                "db",
                "postgres",
                TargetStatus.ERROR if broken else TargetStatus.SCANNED,
                "password authentication failed" if broken else None,
            ),
        ),
        (Result(CHECK, "db", status, Severity.MEDIUM, "t", "m", controls=controls_for(CHECK)),),
        "0",
        scope=(CHECK,),
    )


def _fill(url: str) -> None:
    with HistoryDB.open(url) as store:
        for day, status in DAYS.items():
            store.save(_run(day, status))
        store.save(_run(20, Status.FAIL))  # outside the period


def test_period_evidence_per_control(history_url: str) -> None:
    _fill(history_url)
    with HistoryDB.open(history_url) as store:
        evidence = period_evidence(
            store,
            parse_period("2026-03-01..2026-03-10"),
            "daily",
            now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        )
    assert [r.id for r in evidence.runs] == [f"run-{d:02d}" for d in DAYS]
    control = next(
        c for c in evidence.controls if (c.framework, c.control) == ("pci-dss-4.0.1", "10.2.1.4")
    )
    doc = control.as_dict()
    assert doc["runs"] == 8 and doc["assessed"] == 7
    assert doc["pass_rate"] == 0.375  # 3 passes of 8 runs: the broken run is no pass
    assert doc["longest_failing_stretch"] == {
        "runs": 3,  # days 2-4, the unassessed day 3 did not end it
        "from": "2026-03-02T12:01:00Z",
        "to": "2026-03-05T12:01:00Z",
        "days": 3.0,
        "ongoing": False,
    }
    assert [(g["from"][:10], g["to"][:10], g["missed_runs"]) for g in doc["gaps"]] == [
        ("2026-03-02", "2026-03-04", 1),  # day 3 could not assess it
        ("2026-03-05", "2026-03-08", 2),  # no run on days 6 and 7
    ]
    assert [(g.start.day, g.end.day) for g in evidence.gaps] == [(5, 8)]  # runs overall
    assert [p["status"] for p in doc["trend"]][:3] == ["pass", "fail", "not_assessed"]


def test_period_report_command_html_json_pdf(tmp_path: Path) -> None:
    url = str(tmp_path / "h.db")
    _fill(url)
    period = ["report", "--period", "2026-03-01..2026-03-10", "--history", url]
    proc = run_cli(*period, "--format", "json", "--framework", "pci-dss-4.0.1")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "auditor/period/v1" and len(doc["runs"]) == 8
    assert {c["framework"] for c in doc["controls"]} == {"pci-dss-4.0.1"}
    out = tmp_path / "out"
    proc = run_cli(*period, "--format", "html", "--format", "pdf", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    html = (out / "period.html").read_text()
    assert "<svg" in html and "10.2.1.4" in html and "38%" in html
    assert "2026-03-05T12:01:00Z → 2026-03-08T12:01:00Z" in html  # the gap is named
    assert "<script" not in html
    assert (out / "period.pdf").read_bytes().startswith(b"%PDF")
    # No run in the period: no evidence, and the exit code says so.
    proc = run_cli(
        "report", "--period", "2025-01-01..2025-01-31", "--history", url, "-o", str(out / "x.html")
    )
    assert proc.returncode == 3 and "0 run(s)" in proc.stderr
    assert "No run of the history falls in this period" in (out / "x.html").read_text()


def test_period_parsing() -> None:
    period = parse_period("2026-01-01..2026-12-31")
    assert period.start == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert period.end == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)  # the last day is included
    assert period.label == "2026-01-01..2026-12-31"
    for bad in ("2026", "2026-01-01..", "2026-02-30..2026-03-01", "2026-03-01..2026-02-01"):
        with pytest.raises(PeriodError):
            parse_period(bad)
