"""Host evidence over SSH, against a real OpenSSH server started on a loopback port: the same
facts as a local inspection, the host key checked against known_hosts (unknown or changed keys
refused), and every way a host can fail is one line for that target while the others go on."""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditor.collectors.host import inspect_host
from auditor.collectors.host_shell import LocalShell
from auditor.collectors.host_ssh import SshError, connect, remote_command
from auditor.config import HostTarget, SshAccess
from tests.spine.test_cli import run_cli
from tests.storage.sshd import Sshd, find_sshd, free_port, start_sshd, write_keypair

CANARY_PASSPHRASE = "canary-ssh-passphrase-5d1e"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    binary = find_sshd()
    if binary is None:
        pytest.skip("sshd not found: install openssh-server (tools/bootstrap.sh does, as root)")
    server = start_sshd(binary, tmp_path_factory.mktemp("sshd"), getpass.getuser())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def host_paths(tmp_path: Path) -> tuple[Path, Path]:
    """A data directory and a crypttab naming a key file (mode 0640) and an absent one."""
    data = tmp_path / "pgdata"
    (data / "pg_wal").mkdir(parents=True)
    key = tmp_path / "pgdata.key"
    key.write_text("not a real key\n")
    key.chmod(0o640)
    crypttab = tmp_path / "crypttab"
    crypttab.write_text(f"# name device keyfile options\npgdata /dev/sdz1 {key} luks\n"
                        f"walarch UUID=1234 {tmp_path}/absent.key luks,discard\n")
    return data, crypttab


def access(server: Sshd, **changes: object) -> SshAccess:
    fields: dict[str, object] = {"user": server.user, "host": "127.0.0.1", "port": server.port,
                                 "key": str(server.client_key),
                                 "known_hosts": str(server.known_hosts)}
    return SshAccess.model_validate({**fields, **changes})


def test_ssh_inspection_gives_the_same_facts_as_a_local_one(
    sshd: Sshd, host_paths: tuple[Path, Path]
) -> None:
    data, crypttab = host_paths
    target = HostTarget(name="db", kind="host", data_directory=str(data), crypttab=str(crypttab))
    local = inspect_host(LocalShell(), target, "local")
    shell = connect(access(sshd), Path.cwd(), "db")
    try:
        remote = inspect_host(shell, target, access(sshd).label())
    finally:
        shell.close()
    assert remote.source == f"ssh://{sshd.user}@127.0.0.1:{sshd.port}"
    assert remote.model_dump(exclude={"source"}) == local.model_dump(exclude={"source"})
    assert remote.paths[0].mount_source  # findmnt answered over SSH
    assert remote.crypttab is not None
    assert [(e.name, e.keyfile_mode) for e in remote.crypttab] == [("pgdata", "0640"),
                                                                   ("walarch", None)]


def test_host_paths_from_the_host_stay_data(sshd: Sshd, tmp_path: Path) -> None:
    """A crypttab on the inspected host is hostile input: a key-file path with shell syntax
    is looked up as a name, never run."""
    planted = tmp_path / "pwned"
    crypttab = tmp_path / "crypttab"
    crypttab.write_text(f"x /dev/sdz1 /tmp/k$(touch${{IFS}}{planted});touch${{IFS}}{planted}\n")
    target = HostTarget(name="db", kind="host", data_directory=str(tmp_path),
                        crypttab=str(crypttab))
    shell = connect(access(sshd), Path.cwd(), "db")
    try:
        facts = inspect_host(shell, target)
    finally:
        shell.close()
    assert facts.crypttab is not None and facts.crypttab[0].keyfile_mode is None
    assert not planted.exists()


def test_commands_that_need_root_go_through_sudo_n_only_when_not_root() -> None:
    status = ["cryptsetup", "status", "/dev/mapper/x y"]
    assert remote_command(status, sudo=False).endswith("cryptsetup status '/dev/mapper/x y'")
    with_sudo = remote_command(status, sudo=True)
    # sudo runs the inspection command itself (what a sudoers rule names), never prompts.
    assert " sudo -n -- cryptsetup status '/dev/mapper/x y'" in with_sudo
    assert with_sudo.startswith("env PATH=") and "LC_ALL=C" in with_sudo


def test_a_non_root_login_asks_sudo_only_for_root_commands(
    sshd: Sshd, host_paths: tuple[Path, Path]
) -> None:
    shell = connect(access(sshd), Path.cwd(), "db")
    try:
        shell.is_root = False  # as a non-root login would be
        readable = shell.read_text(str(host_paths[1]))  # the user can read it: no sudo
        status = shell.run(["cryptsetup", "status", "auditor-no-such-mapping"])
    finally:
        shell.close()
    assert readable is not None and "pgdata" in readable
    # Through `sudo -n`: it either ran (sudo allowed it) or sudo itself said why not.
    assert status.returncode != 0
    assert "auditor-no-such-mapping" in status.stdout + status.stderr or "sudo" in status.stderr


def test_an_unknown_host_key_is_refused_not_added(sshd: Sshd, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(SshError, match=r"host key of 127\.0\.0\.1:\d+ is not in .*known_hosts: "
                                       "refusing to connect"):
        connect(access(sshd, known_hosts=str(empty)), Path.cwd(), "db")
    assert empty.read_text() == ""  # nothing was learned


def test_passphrase_protected_keys_and_the_secret_stays_out_of_outputs(
    sshd: Sshd, tmp_path: Path, host_paths: tuple[Path, Path]
) -> None:
    key = Ed25519PrivateKey.generate()
    key_file = tmp_path / "encrypted_ed25519"
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.BestAvailableEncryption(CANARY_PASSPHRASE.encode())))
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    authorized = Path(sshd.client_key).parent / "authorized_keys"
    authorized.write_text(authorized.read_text() + public + "\n")
    data, crypttab = host_paths
    config = tmp_path / "host.yaml"
    config.write_text("targets:\n" + host_target_yaml("enc", sshd, data, crypttab, key=key_file,
        extra="      passphrase: {env: SSH_KEY_PASS}\n"))
    out = tmp_path / "out"
    proc = run_cli("scan", "-c", str(config), "--format", "json", "--format", "html",
                   "-o", str(out), env={"SSH_KEY_PASS": CANARY_PASSPHRASE})
    assert proc.returncode in (0, 1), proc.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["targets"][0]["status"] == "scanned"
    for path in out.iterdir():
        assert CANARY_PASSPHRASE not in path.read_text(errors="replace")
    assert CANARY_PASSPHRASE not in proc.stderr + proc.stdout
    without = run_cli("scan", "-c", str(config), "--format", "json", "-o",
                      str(tmp_path / "r.json"), env={"SSH_KEY_PASS": "wrong-passphrase"})
    assert without.returncode == 3
    error = json.loads((tmp_path / "r.json").read_text())["targets"][0]["error"]
    assert "is not a usable private key (or the passphrase is wrong)" in error


def host_target_yaml(name: str, server: Sshd, data: Path, crypttab: Path, *,
                     port: int | None = None, key: Path | None = None,
                     known_hosts: Path | None = None, extra: str = "") -> str:
    return (f"  - name: {name}\n    kind: host\n    data_directory: '{data}'\n"
            f"    crypttab: '{crypttab}'\n    ssh:\n      user: {server.user}\n"
            f"      host: 127.0.0.1\n      port: {port or server.port}\n"
            f"      key: '{key or server.client_key}'\n"
            f"      known_hosts: '{known_hosts or server.known_hosts}'\n" + extra)


def test_each_failing_host_is_one_line_and_the_others_are_scanned(
    sshd: Sshd, tmp_path: Path, host_paths: tuple[Path, Path]
) -> None:
    data, crypttab = host_paths
    unknown = tmp_path / "unknown_hosts"
    unknown.write_text("")
    changed = tmp_path / "changed_hosts"
    other_host_key = write_keypair(tmp_path / "other_host")
    changed.write_text(f"[127.0.0.1]:{sshd.port} {other_host_key}\n")
    stranger = tmp_path / "stranger_ed25519"
    write_keypair(stranger)
    silent = socket.socket()  # accepts connections, never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    config = tmp_path / "hosts.yaml"
    config.write_text(
        "targets:\n"
        + host_target_yaml("good", sshd, data, crypttab)
        + host_target_yaml("unknown-key", sshd, data, crypttab, known_hosts=unknown)
        + host_target_yaml("changed-key", sshd, data, crypttab, known_hosts=changed)
        + host_target_yaml("stranger", sshd, data, crypttab, key=stranger)
        + host_target_yaml("closed-port", sshd, data, crypttab, port=free_port())
        + host_target_yaml("silent-port", sshd, data, crypttab,
                           port=silent.getsockname()[1],
                           extra="      connect_timeout_seconds: 1\n")
    )
    out = tmp_path / "r.json"
    try:
        proc = run_cli("scan", "-c", str(config), "--format", "json", "-o", str(out))
    finally:
        silent.close()
    # The good host is not on LUKS: its failure gates (1) ahead of the incomplete targets (3).
    assert proc.returncode == 1, proc.stderr
    assert "1/6 target(s) scanned" in proc.stderr
    assert "Traceback" not in proc.stderr
    targets = {t["name"]: t for t in json.loads(out.read_text())["targets"]}
    assert targets["good"]["status"] == "scanned"
    expected = {
        "unknown-key": ("error", f"is not in {unknown}: refusing to connect"),
        "changed-key": ("error", f"(ssh-ed25519) does not match {changed}: refusing"),
        "stranger": ("error", f"ssh login as '{sshd.user}' on 127.0.0.1:{sshd.port} with key "
                              f"{stranger} was refused"),
        "closed-port": ("unreachable", "cannot reach 127.0.0.1:"),
        "silent-port": ("unreachable", "no SSH server answered within 1 s"),
    }
    for name, (status, words) in expected.items():
        assert targets[name]["status"] == status, targets[name]
        assert words in targets[name]["error"] and "\n" not in targets[name]["error"]
    findings = json.loads(out.read_text())["findings"]
    # The reachable host got the verdicts a local inspection of the same paths gives.
    local = tmp_path / "local.yaml"
    local.write_text(f"targets:\n  - name: good\n    kind: host\n    data_directory: '{data}'\n"
                     f"    crypttab: '{crypttab}'\n")
    proc = run_cli("scan", "-c", str(local), "--format", "json", "-o", str(tmp_path / "l.json"))
    assert proc.returncode == 1, proc.stderr

    def verdicts(found: list[dict[str, str]]) -> list[tuple[str, ...]]:
        return sorted((f["check_id"], f["resource"] or "", f["status"], f["message"])
                      for f in found if f["target"] == "good")

    good = verdicts(findings)
    assert good == verdicts(json.loads((tmp_path / "l.json").read_text())["findings"])
    assert ("storage.luks_data_directory", f"data_directory:{data}") in {g[:2] for g in good}
    assert {f["status"] for f in findings if f["target"] != "good"} <= {"error", "skip"}
    assert unknown.read_text() == ""  # refusing never writes known_hosts


def test_validate_names_a_missing_key_or_known_hosts_file(tmp_path: Path) -> None:
    config = tmp_path / "host.yaml"
    config.write_text("targets:\n  - name: h\n    kind: host\n    data_directory: /srv/pg\n"
                      "    ssh:\n      user: auditor\n      host: db.example\n"
                      "      key: nokey\n      known_hosts: nohosts\n")
    proc = run_cli("validate", "-c", str(config))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, proc.stderr
    assert f"{config}:8: targets[0].ssh.key (target 'h'): file {tmp_path}/nokey not found" in (
        lines[0])
    assert "targets[0].ssh.known_hosts (target 'h'): file" in lines[1]
    both = tmp_path / "both.yaml"
    both.write_text(config.read_text() + "    evidence: host-evidence.json\n")
    proc = run_cli("validate", "-c", str(both), "--offline")
    assert proc.returncode == 2 and "either evidence: (a recorded file) or ssh:" in proc.stderr


def test_without_the_ssh_extra_the_target_names_the_package_to_install(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow" / "paramiko"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('paramiko is not installed')\n")
    (tmp_path / "key").write_text("unused\n")
    (tmp_path / "known_hosts").write_text("")
    config = tmp_path / "host.yaml"
    config.write_text("targets:\n  - name: h\n    kind: host\n    data_directory: /srv/pg\n"
                      "    ssh: {user: auditor, host: 127.0.0.1, key: key, "
                      "known_hosts: known_hosts}\n")
    out = tmp_path / "r.json"
    proc = run_cli("scan", "-c", str(config), "--format", "json", "-o", str(out),
                   env={"PYTHONPATH": str(tmp_path / "shadow")})
    assert proc.returncode == 3, proc.stderr
    (target,) = json.loads(out.read_text())["targets"]
    assert target["error"] == (
        "the SSH client is not installed: pip install 'pg-encryption-auditor[ssh]'")
