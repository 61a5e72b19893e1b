"""Self-hosted storage: LUKS under the data directory, WAL and archive, crypttab and key files.
Recorded host evidence for device layouts this machine does not have, real LUKS2 headers from
cryptsetup, and a live local inspection round-tripped through `auditor host-evidence`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from auditor.collectors.host import parse_luks2_header
from auditor.collectors.host_shell import EvidenceShell, LocalShell
from auditor.config import parse_config
from auditor.model import Result, Status, TargetStatus
from auditor.runner import run_scan
from tests.conftest import FIXTURES
from tests.spine.test_cli import run_cli

CHECKS = {"storage.luks_data_directory", "storage.luks_automount"}
PG = "/var/lib/postgresql/15/main"
ARCHIVE = "/var/lib/postgresql/wal_archive"


def host_config(evidence: Path | None, data: str = PG, archive: str | None = ARCHIVE) -> str:
    lines = ["targets:", "  - name: db-host", "    kind: host", f"    data_directory: {data}"]
    if archive:
        lines.append(f"    wal_archive: {archive}")
    if evidence:
        lines.append(f"    evidence: '{evidence}'")
    return "\n".join(lines) + "\n"


def scan(text: str) -> tuple[dict[tuple[str, str | None], Result], TargetStatus]:
    results, _ = run_scan(parse_config(text, "host.yaml"), Path.cwd(), check_ids=CHECKS)
    return {(r.check_id, r.resource): r for r in results.findings}, results.targets[0].status


def test_compliant_host_passes() -> None:
    found, status = scan(host_config(FIXTURES / "host" / "luks-compliant.host-evidence.json"))
    assert status is TargetStatus.SCANNED
    assert {k: r.status for k, r in found.items()} == {
        ("storage.luks_data_directory", f"data_directory:{PG}"): Status.PASS,
        ("storage.luks_data_directory", f"wal:{PG}/pg_wal"): Status.PASS,
        ("storage.luks_data_directory", f"wal_archive:{ARCHIVE}"): Status.PASS,
        ("storage.luks_automount", "pgdata"): Status.PASS,
        ("storage.luks_automount", "walarchive"): Status.PASS,
    }
    data = found[("storage.luks_data_directory", f"data_directory:{PG}")]
    assert data.message == f"{PG} on /dev/mapper/pgdata (LUKS2, aes-xts-plain64, 512-bit key)"
    assert data.evidence["crypt"][0]["luks_kdf"] == ["argon2id"]


def test_weak_host_fails_with_device_chain_and_key_file() -> None:
    found, _ = scan(host_config(FIXTURES / "host" / "luks-weak.host-evidence.json"))
    data = found[("storage.luks_data_directory", f"data_directory:{PG}")]
    assert data.status is Status.FAIL
    assert data.message == (f"{PG}: /dev/mapper/pgdata uses aes-cbc-essiv:sha256 "
                            "(policy: aes-xts with a 512-bit key)")
    archive = found[("storage.luks_data_directory", f"wal_archive:{ARCHIVE}")]
    assert archive.status is Status.FAIL
    assert archive.message == (f"{ARCHIVE} is not encrypted: /dev/sda1 (part, ext4) <- "
                               "/dev/sda (disk)")
    keyfile = found[("storage.luks_automount", "pgdata")]
    assert keyfile.status is Status.FAIL
    assert keyfile.message == ("pgdata: key file /root/pgdata.key is mode 0644 owned by uid 0 "
                               "(/etc/crypttab:1)")


@pytest.fixture(scope="module")
def cryptsetup() -> str:
    found = shutil.which("cryptsetup")
    if not found:
        pytest.fail("cryptsetup not found: install it with 'apt-get install cryptsetup-bin'")
    return found


@pytest.mark.parametrize(("cipher", "bits"), [("aes-xts-plain64", "512"),
                                              ("aes-cbc-essiv:sha256", "256")])
def test_real_luks2_headers_parse(tmp_path: Path, cryptsetup: str, cipher: str,
                                  bits: str) -> None:
    image = tmp_path / "volume.img"
    with image.open("wb") as fh:
        fh.truncate(32 * 1024 * 1024)
    subprocess.run([cryptsetup, "luksFormat", "--batch-mode", "--type", "luks2", "--cipher",
                    cipher, "--key-size", bits, "--pbkdf", "pbkdf2",
                    "--pbkdf-force-iterations", "1000", str(image), "-"],
                   input=b"not-a-real-passphrase", check=True, capture_output=True)
    out = LocalShell().run(["cryptsetup", "luksDump", "--dump-json-metadata", str(image)])
    assert out.returncode == 0, out.stderr
    assert parse_luks2_header(json.loads(out.stdout)) == (cipher, ("pbkdf2",))


def test_only_inspection_commands_may_run() -> None:
    with pytest.raises(PermissionError):
        LocalShell().run(["cryptsetup", "luksFormat", "/dev/null"])
    with pytest.raises(PermissionError):
        LocalShell().run(["rm", "-rf", "/"])


def test_recorded_local_evidence_gives_the_live_verdicts(tmp_path: Path) -> None:
    data = tmp_path / "pgdata"
    data.mkdir()
    proc = run_cli("host-evidence", "--data-directory", str(data), "-o", str(tmp_path / "ev"))
    assert proc.returncode == 0, proc.stderr
    evidence = tmp_path / "ev" / "host-evidence.json"
    assert EvidenceShell(evidence).commands  # findmnt & co were recorded
    live, _ = scan(host_config(None, data=str(data), archive=None))
    recorded, _ = scan(host_config(evidence, data=str(data), archive=None))
    assert {k: (r.status, r.message) for k, r in live.items()} == {
        k: (r.status, r.message) for k, r in recorded.items()}
    assert live[("storage.luks_data_directory", f"data_directory:{data}")].status in (
        Status.PASS, Status.FAIL)
