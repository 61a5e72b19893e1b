"""`auditor scan --shard K/N`: a stable partition of the targets, and N shard processes
writing concurrently into one run of a history store (SQLite file and real PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.lab.cluster import Cluster
from auditor.shards import Shard, ShardError, parse_shard, run_id_from, shard_from, shard_of
from tests.conftest import AUDITOR_PASSWORD, target_yaml
from tests.spine.test_cli import run_cli, write_config

NAMES = [f"db-{i:02d}" for i in range(16)]


def test_partition_is_stable_and_covers_every_target_once() -> None:
    for count in (1, 3, 8):
        owners = {name: shard_of(name, count) for name in NAMES}
        assert all(1 <= k <= count for k in owners.values())
        # Stable: the same answer whatever else is configured, and from another process.
        code = f"from auditor.shards import shard_of; print(shard_of('db-07', {count}))"
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert int(other.stdout) == owners["db-07"]
    assert len({shard_of(n, 8) for n in NAMES}) > 3  # names spread over the shards


def test_shard_and_run_id_from_options_and_indexed_job() -> None:
    assert parse_shard("3/8") == Shard(3, 8)
    for bad in ("0/8", "9/8", "1/0", "x", "1/8/2"):
        with pytest.raises(ShardError):
            parse_shard(bad)
    job = {"JOB_COMPLETION_INDEX": "0", "JOB_COMPLETION_COUNT": "4", "HOSTNAME": "nightly-29-0"}
    assert shard_from(None, job) == Shard(1, 4)  # the Job's index is 0-based
    assert shard_from("2/2", job) == Shard(2, 2)  # the option wins
    assert shard_from(None, {}) is None
    assert run_id_from(None, Shard(1, 4), job) == "nightly-29"  # the Job's name
    assert run_id_from("given", Shard(1, 4), job) == "given"
    assert run_id_from(None, None, {}) is None
    with pytest.raises(ShardError, match="--shard needs --run-id"):
        run_id_from(None, Shard(1, 4), {"HOSTNAME": "laptop"})
    with pytest.raises(ShardError, match="not numbers"):
        shard_from(None, {"JOB_COMPLETION_INDEX": "a", "JOB_COMPLETION_COUNT": "4"})


def _popen(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    full.pop("AUDITOR_DEBUG", None)
    full.update(env)
    return subprocess.Popen(
        [sys.executable, "-m", "auditor", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full,
        cwd=cwd,
    )


def test_eight_shards_write_one_run_concurrently(
    compliant_cluster: Cluster, tmp_path: Path, history_url: str
) -> None:
    dsn = compliant_cluster.dsn("auditor")
    config = write_config(
        tmp_path, *(target_yaml(n, dsn, password="{env: PW}", tls_probe="false") for n in NAMES)
    )
    scan = ["scan", "-c", str(config), "--check", "transport.ssl_enabled"]
    procs = [
        _popen(
            [*scan, "--history", history_url, "--run-id", "nightly-1"],
            # Half take their shard from an Indexed Job's environment, half from --shard.
            {"PW": AUDITOR_PASSWORD, "JOB_COMPLETION_INDEX": str(k), "JOB_COMPLETION_COUNT": "8"}
            if k % 2
            else {"PW": AUDITOR_PASSWORD, "AUDITOR_SHARD": f"{k + 1}/8"},
            tmp_path,
        )
        for k in range(8)
    ]
    outcomes = [(p.wait(timeout=600), p.stderr.read() if p.stderr else "") for p in procs]
    for proc in procs:
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
    assert [code for code, _ in outcomes] == [0] * 8, [err for _, err in outcomes]
    assert all("Traceback" not in err for _, err in outcomes)

    listed = run_cli("history", "list", "--history", history_url, "--format", "json")
    runs = json.loads(listed.stdout)
    assert len(runs) == 1 and runs[0]["id"] == "nightly-1"
    assert runs[0]["shards"] == {"expected": 8, "recorded": 8}
    assert runs[0]["targets"] == len(NAMES)

    merged = tmp_path / "merged.json"
    proc = run_cli(
        "report", "--run", "nightly-1", "--history", history_url, "--format", "json",
        "-o", str(merged),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    document = json.loads(merged.read_text())
    assert sorted(t["name"] for t in document["targets"]) == NAMES  # nothing lost
    per_target = [(f["target"], f["check_id"]) for f in document["findings"]]
    assert sorted(per_target) == sorted((n, "transport.ssl_enabled") for n in NAMES)
    assert {f["status"] for f in document["findings"]} == {"pass"}

    # A retried shard replaces its own part instead of adding to it.
    again = run_cli(
        *scan, "--history", history_url, "--run-id", "nightly-1", "--shard", "3/8",
        env={"PW": AUDITOR_PASSWORD},
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    runs = json.loads(
        run_cli("history", "list", "--history", history_url, "--format", "json").stdout
    )
    assert runs[0]["targets"] == len(NAMES) and runs[0]["shards"]["recorded"] == 8


def test_a_missing_shard_makes_the_merged_report_incomplete(
    compliant_cluster: Cluster, tmp_path: Path
) -> None:
    history = str(tmp_path / "h.db")
    dsn = compliant_cluster.dsn("auditor")
    config = write_config(
        tmp_path, *(target_yaml(n, dsn, password="{env: PW}", tls_probe="false") for n in NAMES[:4])
    )
    proc = run_cli(
        "scan", "-c", str(config), "--check", "transport.ssl_enabled", "--history", history,
        "--shard", "1/2", "--run-id", "half", env={"PW": AUDITOR_PASSWORD},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("report", "--run", "half", "--history", history, "-o", str(tmp_path / "r.html"))
    assert proc.returncode == 3
    assert "1 of 2 shards recorded" in proc.stderr and (tmp_path / "r.html").is_file()
