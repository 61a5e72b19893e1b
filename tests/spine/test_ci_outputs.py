"""What CI systems read from a real scan: SARIF GitHub code scanning accepts (a physical
location on every result, 2.1.0 schema), JUnit counts equal to the summary, options from
AUDITOR_* environment variables and the one-line summary on stderr."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema

from auditor.formatters.sarif import physical_location
from auditor.lab.cluster import Cluster
from auditor.model import TargetOutcome, TargetStatus
from auditor.target_sources import declared_lines
from tests.conftest import AUDITOR_PASSWORD, FIXTURES, target_yaml
from tests.spine.test_cli import SPINE, run_cli

SARIF_SCHEMA = json.loads((FIXTURES / "sarif" / "sarif-2.1.0-rtm.5.json").read_text())
SUMMARY = re.compile(
    r"auditor: (\d+)/(\d+) target\(s\) scanned, (\d+) verdict\(s\): (\d+) fail, (\d+) error, "
    r"(\d+) pass, (\d+) skip, (\d+) manual, (\d+) waived; exit (\d)"
)


def test_env_configured_scan_writes_sarif_with_config_lines_and_matching_junit(
    weak_cluster: Cluster, tmp_path: Path
) -> None:
    (tmp_path / ".git").mkdir()  # the repository root that SARIF paths are relative to
    config = tmp_path / "deploy" / "auditor.yaml"
    config.parent.mkdir()
    config.write_text(
        "# databases we audit\ntargets:\n"
        + target_yaml("other", "postgresql://auditor@127.0.0.1:1/none?connect_timeout=1")
        + target_yaml("weak", weak_cluster.dsn("auditor"), password="{env: PW}")
    )
    out = tmp_path / "report"
    proc = run_cli(
        "scan",
        env={
            "PW": AUDITOR_PASSWORD,
            "AUDITOR_CONFIG": str(config),
            "AUDITOR_FORMAT": "sarif junit",
            "AUDITOR_OUTPUT": str(out),
            "AUDITOR_FAIL_ON": "critical",
        },
        cwd=tmp_path,
    )
    assert proc.stdout == ""  # only files written
    summary = SUMMARY.search(proc.stderr.strip().splitlines()[-1])
    assert summary is not None, proc.stderr
    scanned, targets, verdicts, fail, error, passed, skip, manual, waived, code = map(
        int, summary.groups()
    )
    assert (scanned, targets) == (1, 2) and fail > 0 and error > 0 and passed > 0
    # No critical failure on the weak cluster, but a target was unreachable: exit 3, and
    # AUDITOR_FAIL_ON really applied (with the default 'low' the md5 failure gives 1).
    assert code == proc.returncode == 3

    doc = json.loads((out / "results.json").read_text())
    assert doc["summary"]["findings"] == verdicts
    assert {t["name"]: t.get("declared_at") for t in doc["targets"]} == {
        "other": "deploy/auditor.yaml:3",
        "weak": "deploy/auditor.yaml:5",
    }
    sarif = json.loads((out / "results.sarif").read_text())
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)
    results = sarif["runs"][0]["results"]
    assert len(results) == fail + error + manual + waived  # passes and skips are not alerts
    lines = config.read_text().splitlines()
    for result in results:
        physical = result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"] == {
            "uri": "deploy/auditor.yaml",
            "uriBaseId": "%SRCROOT%",
        }
        line = lines[physical["region"]["startLine"] - 1]
        assert line == f"  - name: {result['properties']['target']}"
    assert {r["properties"]["target"] for r in results} == {"other", "weak"}

    junit = ET.parse(out / "results.junit.xml").getroot()
    assert junit.get("tests") == str(verdicts)
    assert junit.get("failures") == str(fail)
    assert junit.get("errors") == str(error)
    assert junit.get("skipped") == str(skip + manual + waived)


def test_dsn_scan_sarif_uses_the_documented_pseudo_artifact(
    weak_cluster: Cluster, tmp_path: Path
) -> None:
    out = tmp_path / "r.sarif"
    proc = run_cli(
        "scan",
        "--dsn",
        weak_cluster.dsn("auditor"),
        "--name",
        "weak db",
        "--format",
        "sarif",
        "-o",
        str(out),
        *SPINE,
        env={"PGPASSWORD": AUDITOR_PASSWORD},
    )
    assert proc.returncode == 1, proc.stderr
    assert SUMMARY.search(proc.stderr) is not None
    sarif = json.loads(out.read_text())
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)
    results = sarif["runs"][0]["results"]
    assert results and all(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        == "auditor-targets/weak%20db"
        for r in results
    )


def test_declared_lines_and_locations_for_odd_configs(tmp_path: Path) -> None:
    text = "targets:\n  - {name: 'a b', dsn: x}\n  -\n    dsn: y\n    name: \"c:d\"\n"
    assert declared_lines(text) == {"a b": 2, "c:d": 4}
    assert declared_lines("targets: [oops") == {}  # unparsable: no anchors, no crash
    located = physical_location(
        TargetOutcome("c:d", "postgres", TargetStatus.SCANNED, declared_at="my dir/a.yaml:4"), "c:d"
    )
    assert located["artifactLocation"]["uri"] == "my%20dir/a.yaml"
    assert located["region"] == {"startLine": 4}
    fallback = physical_location(None, "c:d/x")
    assert fallback["artifactLocation"] == {"uri": "auditor-targets/c%3Ad%2Fx"}
