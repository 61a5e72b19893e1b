"""`auditor demo`, the README's first command, end to end."""

from __future__ import annotations

import json
from pathlib import Path

from tests.spine.test_cli import run_cli


def test_demo_finds_its_planted_weaknesses_and_cleans_up(tmp_path: Path) -> None:
    out = tmp_path / "report"
    proc = run_cli("demo", "-o", str(out), "--format", "json")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # planted weaknesses gate the run
    document = json.loads((out / "results.json").read_text())
    assert [t["status"] for t in document["targets"]] == ["scanned"]
    failed = {f["check_id"] for f in document["findings"] if f["status"] == "fail"}
    assert "audit.connection_logging" in failed
    assert (out / "auditor.yaml").exists() and "results.json" in proc.stdout
    assert "demo-auditor-password" not in (out / "auditor.yaml").read_text()
    # The README's promise: the demo folder verifies, its config and CA listed as evidence.
    verified = run_cli("verify", str(out))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    listed = {entry["name"] for entry in json.loads((out / "manifest.json").read_text())["files"]}
    assert {"auditor.yaml", "ca.crt"} <= listed
    # Without --keep no demo cluster is left behind.
    data_dirs = [line for line in proc.stdout.splitlines() if "Cluster kept running" in line]
    assert not data_dirs
