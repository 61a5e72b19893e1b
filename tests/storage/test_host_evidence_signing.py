"""Signed host evidence: `auditor host-evidence --sign-key` records which host, when and with
which Auditor version, and a `host` target with `public_key:` audits it only while that key's
signature holds over the file as it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.config import parse_config
from auditor.model import Status, TargetStatus
from auditor.runner import run_scan
from tests.spine.test_cli import run_cli

CHECKS = {"storage.luks_data_directory"}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("host")
    for name in ("org", "other"):
        assert run_cli("keygen", str(root / name)).returncode == 0
    data = root / "pgdata"
    data.mkdir()
    proc = run_cli(
        "host-evidence",
        "--data-directory",
        str(data),
        "-o",
        str(root / "ev"),
        env={"AUDITOR_SIGN_KEY": str(root / "org")},
    )
    assert proc.returncode == 0, proc.stderr
    assert "signed with key SHA256:" in proc.stdout
    return {"root": root, "data": data, "evidence": root / "ev" / "host-evidence.json"}


def scan(recorded: dict[str, Path], evidence: Path, key: str | None) -> tuple[TargetStatus, str]:
    lines = [
        "targets:",
        "  - name: db-host",
        "    kind: host",
        f"    data_directory: '{recorded['data']}'",
        f"    evidence: '{evidence}'",
    ]
    if key:
        lines.append(f"    public_key: '{recorded['root'] / key}'")
    results, _ = run_scan(
        parse_config("\n".join(lines) + "\n", "h.yaml"), Path.cwd(), check_ids=CHECKS
    )
    target = results.targets[0]
    if target.status is TargetStatus.ERROR:  # refused evidence must not pass anything
        assert not any(r.status is Status.PASS for r in results.findings)
    return target.status, target.error or ""


def test_the_recording_says_where_when_and_with_what(recorded: dict[str, Path]) -> None:
    import socket

    from auditor import __version__

    doc = json.loads(recorded["evidence"].read_text())
    assert doc["recorded"]["host"] == socket.gethostname()
    assert doc["recorded"]["tool"]["version"] == __version__
    assert doc["recorded"]["at"].endswith("Z")
    assert doc["attestation"]["payloadType"] == "application/vnd.in-toto+json"


def test_signed_evidence_is_audited_with_the_right_key(recorded: dict[str, Path]) -> None:
    assert scan(recorded, recorded["evidence"], "org.pub") == (TargetStatus.SCANNED, "")
    assert scan(recorded, recorded["evidence"], None) == (TargetStatus.SCANNED, "")


def test_wrong_key_or_edited_evidence_is_refused(recorded: dict[str, Path], tmp_path: Path) -> None:
    status, error = scan(recorded, recorded["evidence"], "other.pub")
    assert status is TargetStatus.ERROR
    assert "signature does not verify with the given public key" in error
    doc = json.loads(recorded["evidence"].read_text())
    for key in doc["stats"]:  # claim every path is root-owned 0600
        if doc["stats"][key]:
            doc["stats"][key]["mode"] = 0o100600
    doc["files"]["/etc/crypttab"] = "pgdata UUID=x none luks"
    edited = tmp_path / "host-evidence.json"
    edited.write_text(json.dumps(doc))
    status, error = scan(recorded, edited, "org.pub")
    assert status is TargetStatus.ERROR and "content differs from what was signed" in error
    doc.pop("attestation")
    edited.write_text(json.dumps(doc))
    status, error = scan(recorded, edited, "org.pub")
    assert status is TargetStatus.ERROR and "not signed" in error
