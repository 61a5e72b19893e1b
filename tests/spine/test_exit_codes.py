"""The exit-code contract, walked over every subcommand with bad input: each answers with its
documented code (2 for usage and configuration errors) and one line on stderr, never a
traceback. `auditor --help` lists the commands; a new command without a row here fails."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from auditor.cli import main
from tests.spine.test_cli import run_cli

MISSING_SECRET = (
    "missing-secret.yaml:4: targets[0].password (target 'a'): "
    "environment variable NOPE_UNSET_VAR is not set"
)

# command -> (arguments, words the one-line error must contain); {tmp} is a fresh folder.
BAD_INPUT: dict[str, list[tuple[list[str], str]]] = {
    "checks": [
        (["checks", "show", "no.such_check"], "unknown check id 'no.such_check'"),
        (["checks", "list", "--bogus"], "No such option '--bogus'"),
    ],
    "controls": [
        (["controls", "list", "nope"], "unknown framework 'nope'"),
        (["controls", "show", "gdpr", "Art. 99"], "has no control 'Art. 99'"),
    ],
    "config-schema": [
        (["config-schema", "extra"], "unexpected extra argument"),
        (["config-schema", "-o", "{tmp}/nodir/schema.json"], "cannot write"),
    ],
    "demo": [(["demo", "--format", "nope"], "unknown format 'nope'")],
    "diff": [
        (["diff", "{tmp}/old.json", "{tmp}/new.json"], "old.json: results file not found"),
        (["diff", "--history", "s3://bucket/x"], "'s3' URLs are not supported"),
        (["diff", "--history", "{tmp}/empty.db"], "no runs recorded"),
        (["diff", "--history", "{tmp}/file"], "file is not a database"),
    ],
    "history": [
        (["history", "list", "--history", "{tmp}"], "auditor history import"),
        (["history", "show", "nope", "--history", "{tmp}/empty.db"], "no run matching 'nope'"),
        (["history", "prune", "--history", "{tmp}/empty.db"], "Missing option '--keep-days'"),
        (["history", "prune", "--keep-days", "-1"], "Invalid value for '--keep-days'"),
        (["history", "import", "{tmp}/nowhere", "--history", "{tmp}/h.db"], "not a folder"),
        (["history", "import", "{tmp}", "--history", "{tmp}/h.db"], "no *.results.json files"),
    ],
    "discover": [
        (["discover", "-c", "{tmp}/none.yaml"], "none.yaml: config file not found"),
        (["discover", "-c", "{tmp}/missing-secret.yaml", "--target", "b"], "--target b: no"),
        (["discover", "-c", "{tmp}/missing-secret.yaml"], MISSING_SECRET),
    ],
    "evaluate": [
        (["evaluate", "{tmp}"], "cannot read facts bundle"),
        (["evaluate", "{tmp}/none.facts.json"], "no such facts bundle"),
        (["evaluate"], "Missing argument"),
        (
            ["evaluate", "{tmp}/none.facts.json", "--public-key", "{tmp}/none.pub"],
            "none.pub: cannot read public key",
        ),
    ],
    "formats": [(["formats", "extra"], "unexpected extra argument")],
    "grants": [
        (["grants", "-c", "{tmp}/none.yaml"], "none.yaml: config file not found"),
        (["grants", "--target", "x"], "--target goes with -c/--config"),
    ],
    "host-evidence": [
        (["host-evidence", "--data-directory", "{tmp}/no-data"], "no such folder on this host"),
        (
            ["host-evidence", "--data-directory", "{tmp}", "-o", "{tmp}/file/sub"],
            "cannot write host evidence",
        ),
    ],
    "report": [
        (["report", "{tmp}/none.json"], "none.json: results file not found"),
        (["report", "{tmp}/none.json", "--format", "docx"], "Invalid value for '--format'"),
        (["report"], "give one of RESULTS.json, --run RUN or --period FROM..TO"),
        (["report", "--run", "x", "--history", "{tmp}/empty.db"], "no run matching 'x'"),
        (["report", "--period", "2026-13-01..2026-12-31"], "--period '2026-13-01..2026-12-31'"),
        (["report", "--period", "2026-02-01..2026-01-01"], "the end is before the start"),
        (["report", "--period", "2026", "--history", "{tmp}/empty.db"], "expected FROM..TO"),
        (
            ["report", "--period", "2026-01-01..2026-01-02", "--format", "csv"],
            "format 'csv' is not available",
        ),
        (["report", "--period", "2026-01-01..2026-01-02", "--cadence", "yearly"], "'--cadence'"),
        (["report", "{tmp}/none.json", "--split-by", "env"], "expected 'target' or 'label:KEY'"),
        (["report", "{tmp}/none.json", "--split-by", "target"], "give -o/--output FOLDER"),
    ],
    "scan": [
        (["scan"], "give exactly one of -c/--config FILE or --dsn URL"),
        (
            ["scan", "--dsn", "postgresql://h/db", "--password-env", "NOPE_UNSET_VAR"],
            "environment variable NOPE_UNSET_VAR is not set",
        ),
        (
            ["scan", "-c", "{tmp}/missing-secret.yaml"],
            MISSING_SECRET,
        ),
        (["scan", "--dsn", "postgresql://h/db", "--format", "nope"], "unknown format 'nope'"),
        (["scan", "--dsn", "postgresql://h/db", "--workers", "0"], "Invalid value for '--workers'"),
        (["scan", "--dsn", "postgresql://h/db", "--check", "nope"], "unknown check id 'nope'"),
        (
            ["scan", "--dsn", "postgresql://h/db", "--template-dir", "{tmp}/nodir"],
            "nodir: no such folder",
        ),
        (
            ["scan", "--dsn", "postgresql://h/db", "--notify-webhook", "ftp://hooks.example/x"],
            "--notify-webhook: must be an https:// (or http://) URL with a host",
        ),
        (
            ["scan", "--dsn", "postgresql://h/db", "--waivers", "{tmp}/star-waiver.yaml"],
            "waivers[0].check: '*' waives every check",
        ),
        (
            ["scan", "--dsn", "postgresql://h/db", "--framework", "pci-dss-9"],
            "unknown framework 'pci-dss-9'",
        ),
        (["scan", "--dsn", "postgresql://h/db", "--shard", "0/4"], "K must be between 1 and N"),
        (["scan", "--dsn", "postgresql://h/db", "--shard", "two"], "expected K/N"),
        (["scan", "--dsn", "postgresql://h/db", "--shard", "2/4"], "--shard needs --run-id"),
        (
            ["scan", "--dsn", "postgresql://h/db", "--shard", "1/2", "--run-id", "a b"],
            "--run-id 'a b'",
        ),
        (["scan", "--dsn", "postgresql://h/db", "--history", "ftp://x/y"], "'ftp' URLs"),
        (
            [
                "scan",
                "--dsn",
                "postgresql://h/db",
                "--history",
                "{tmp}/empty.db",
                "--baseline",
                "nope",
            ],
            "--baseline nope: no such results file, and no run matching 'nope'",
        ),
        (
            ["scan", "-c", "{tmp}/missing-secret.yaml", "--target", "b"],
            "--target 'b' matches no target (targets: a)",
        ),
        (
            ["scan", "-c", "{tmp}/missing-secret.yaml", "--exclude-target", "b*"],
            "--exclude-target 'b*' matches no target",
        ),
        (
            ["scan", "-c", "{tmp}/missing-secret.yaml", "--label", "env=prod"],
            "--label env=prod: no target matches; no target has env=prod; targets: a",
        ),
        (
            ["scan", "-c", "{tmp}/missing-secret.yaml", "--exclude-label", "env"],
            "--exclude-label 'env': must be key=value",
        ),
        (
            ["scan", "-c", "{tmp}/store-secret.yaml"],
            "targets[0].password (target 'a'): access_token: environment variable "
            "NOPE_UNSET_VAR is not set",
        ),
        (
            ["scan", "-c", "{tmp}/bad-discovery.yaml"],
            "bad-discovery.yaml:4: targets[0].role_arns[0].arn: does not have the expected form",
        ),
        (
            ["scan", "-c", "{tmp}/discovery-secret.yaml"],
            "targets[0].connect.password (target 'estate'): environment variable "
            "NOPE_UNSET_VAR is not set",
        ),
        (
            ["scan", "-c", "{tmp}/bad-databases.yaml"],
            "bad-databases.yaml:3: targets[0].databases: must be 'all' or a list",
        ),
        (
            ["scan", "--dsn", "postgresql://h/db", "--split-by", "label:"],
            "expected 'target' or 'label:KEY'",
        ),
    ],
    "validate": [
        (["validate", "-c", "{tmp}/none.yaml"], "none.yaml: config file not found"),
        (
            ["validate", "-c", "{tmp}/short-waivers.yaml", "--waivers", "{tmp}/long-waiver.yaml"],
            "waivers[0].expires: 2026-12-01 is more than 30 days after approved 2026-10-01 "
            "(policy.waiver_max_days)",
        ),
        (
            ["validate", "-c", "{tmp}/missing-secret.yaml"],
            MISSING_SECRET,
        ),
        (
            ["validate", "-c", "{tmp}/store-secret.yaml"],
            "targets[0].password (target 'a'): access_token: environment variable "
            "NOPE_UNSET_VAR is not set",
        ),
        (["validate", "-c", "{tmp}/bad-store.yaml"], "targets[0].password.gcp_secret"),
    ],
    "verify": [(["verify", "{tmp}/nowhere"], "not a folder")],
    "keygen": [
        (["keygen"], "Missing argument 'KEY'"),
        (["keygen", "{tmp}/file"], "already exists (refusing to overwrite a key)"),
        (["keygen", "{tmp}/nodir/key"], "cannot write key"),
    ],
}


def test_every_command_has_bad_input_cases() -> None:
    assert set(BAD_INPUT) == set(main.commands), "add the new command's bad-input cases"


CASES = [
    pytest.param(args, words, id=f"{name}:{' '.join(args[1:])[:40]}")
    for name, cases in BAD_INPUT.items()
    for args, words in cases
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "file").write_text("a file, not a folder\n")
    (tmp_path / "bad-databases.yaml").write_text(
        "targets:\n  - {name: a, dsn: 'postgresql://u@127.0.0.1:1/db',\n     databases: every}\n"
    )
    (tmp_path / "missing-secret.yaml").write_text(
        "targets:\n  - name: a\n    dsn: postgresql://u@127.0.0.1:1/db\n"
        "    password: {env: NOPE_UNSET_VAR}\n"
    )
    (tmp_path / "star-waiver.yaml").write_text(
        "waivers:\n  - check: '*'\n    reason: r\n    approved_by: a\n    expires: 2026-12-31\n"
    )
    (tmp_path / "short-waivers.yaml").write_text(
        "targets:\n  - name: a\n    dsn: postgresql://u@127.0.0.1:1/db\n"
        "policy:\n  waiver_max_days: 30\n"
    )
    (tmp_path / "long-waiver.yaml").write_text(
        "waivers:\n  - check: auth.password_encryption\n    reason: r\n    approved_by: a\n"
        "    approved: 2026-10-01\n    expires: 2026-12-01\n"
    )
    (tmp_path / "store-secret.yaml").write_text(
        "targets:\n  - name: a\n    dsn: postgresql://u@127.0.0.1:1/db\n"
        "    password: {gcp_secret: projects/p/secrets/s, access_token: {env: NOPE_UNSET_VAR}}\n"
    )
    (tmp_path / "bad-store.yaml").write_text(
        "targets:\n  - name: a\n    dsn: postgresql://u@127.0.0.1:1/db\n"
        "    password: {gcp_secret: s}\n"
    )
    (tmp_path / "bad-discovery.yaml").write_text(
        "targets:\n  - name: estate\n    kind: aws\n    role_arns: [not-an-arn]\n"
    )
    (tmp_path / "discovery-secret.yaml").write_text(
        "targets:\n  - name: estate\n    kind: gcp\n    projects: [p]\n"
        "    connect: {user: auditor, password: {env: NOPE_UNSET_VAR}}\n"
    )
    return tmp_path


@pytest.mark.parametrize(("args", "words"), CASES)
def test_bad_input_exits_2_with_one_line(folder: Path, args: list[str], words: str) -> None:
    proc = run_cli(*(a.replace("{tmp}", str(folder)) for a in args), cwd=folder)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("auditor: error: ") and words in lines[0], lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "internal error" not in proc.stderr


def test_missing_secret_exits_2_before_anything_is_written(folder: Path) -> None:
    """Today's trap: validate said ok, the scan wrote a folder of 30 errors and exited 3."""
    config = str(folder / "missing-secret.yaml")
    validate = run_cli("validate", "-c", config)
    assert validate.returncode == 2 and "NOPE_UNSET_VAR" in validate.stderr
    offline = run_cli("validate", "-c", config, "--offline")
    assert offline.returncode == 0, offline.stderr
    assert "ok (1 target: postgres)" in offline.stdout
    scan = run_cli(
        "scan", "-c", config, "--format", "json", "--format", "html", "-o", str(folder / "out")
    )
    assert scan.returncode == 2
    assert not (folder / "out").exists()


def test_unreachable_target_is_incomplete_not_usage(folder: Path) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    proc = run_cli("scan", "--dsn", f"postgresql://u@127.0.0.1:{port}/db")
    assert proc.returncode == 3, proc.stderr
