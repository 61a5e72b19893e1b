"""`auditor scan --framework F --fail-on S`: only failures of checks mapped to F's controls
make the exit code 1 (issue 14: before, --framework only changed report views). Real
clusters: the weak one fails both a check PCI DSS 4.0.1 maps (auth.password_encryption, md5)
and one it does not (auth.hba_network_scope, a 0.0.0.0/0 rule)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from auditor.frameworks import framework_checks
from auditor.lab.cluster import Cluster
from tests.conftest import AUDITOR_PASSWORD, target_yaml
from tests.spine.test_cli import run_cli, write_config

MAPPED = "auth.password_encryption"  # PCI DSS 4.0.1 8.3.2 (high)
UNMAPPED = "auth.hba_network_scope"  # in SOC 2, not in PCI DSS 4.0.1 (medium)


def test_the_two_checks_sit_on_either_side_of_the_framework() -> None:
    pci = framework_checks("pci-dss-4.0.1")
    assert MAPPED in pci and UNMAPPED not in pci
    assert UNMAPPED in framework_checks("soc2-tsc-2017")


def _scan(cluster: Cluster, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # pg_hba.conf read as a file (the scanning role may not read pg_hba_file_rules).
    hba = f"'{cluster.datadir / 'pg_hba.conf'}'"
    config = write_config(
        tmp_path, target_yaml("db", cluster.dsn("auditor"), password="{env: PW}", hba_file=hba)
    )
    out = tmp_path / "results.json"
    proc = run_cli(
        "scan",
        "-c",
        str(config),
        "--format",
        "json",
        "-o",
        str(out),
        *args,
        env={"PW": AUDITOR_PASSWORD},
    )
    assert "Traceback" not in proc.stderr
    return proc


def _statuses(tmp_path: Path) -> dict[str, set[str]]:
    doc = json.loads((tmp_path / "results.json").read_text())
    out: dict[str, set[str]] = {}
    for f in doc["findings"]:
        out.setdefault(f["check_id"], set()).add(f["status"])
    return out


@pytest.mark.slow
def test_a_failure_outside_the_framework_does_not_gate(
    weak_cluster: Cluster, tmp_path: Path
) -> None:
    only_unmapped = ("--check", UNMAPPED, "--fail-on", "medium")
    proc = _scan(weak_cluster, tmp_path, *only_unmapped)
    assert proc.returncode == 1, proc.stderr  # the failure is real and gates without -F
    assert _statuses(tmp_path)[UNMAPPED] == {"fail"}
    proc = _scan(weak_cluster, tmp_path, *only_unmapped, "--framework", "pci-dss-4.0.1")
    assert proc.returncode == 0, proc.stderr
    assert "only checks mapped to pci-dss-4.0.1 decide the exit code" in proc.stderr
    assert _statuses(tmp_path)[UNMAPPED] == {"fail"}  # still reported, just not gating
    # A framework that does map it gates on it.
    proc = _scan(weak_cluster, tmp_path, *only_unmapped, "--framework", "soc2-tsc-2017")
    assert proc.returncode == 1, proc.stderr


@pytest.mark.slow
def test_a_failure_inside_the_framework_gates(
    weak_cluster: Cluster, compliant_cluster: Cluster, tmp_path: Path
) -> None:
    both = ("--check", UNMAPPED, "--check", MAPPED, "--framework", "pci-dss-4.0.1")
    proc = _scan(weak_cluster, tmp_path, *both, "--fail-on", "high")
    assert proc.returncode == 1, proc.stderr
    assert _statuses(tmp_path)[MAPPED] == {"fail"}
    # --fail-on still applies on top: the mapped failure is high, not critical.
    assert _scan(weak_cluster, tmp_path, *both, "--fail-on", "critical").returncode == 0
    # The compliant cluster passes both checks for real, so the same gate is open.
    proc = _scan(compliant_cluster, tmp_path, *both, "--fail-on", "high")
    assert proc.returncode == 0, proc.stderr
    assert _statuses(tmp_path)[MAPPED] == {"pass"} and _statuses(tmp_path)[UNMAPPED] == {"pass"}
