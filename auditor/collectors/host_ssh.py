"""Host evidence over SSH: the same allow-listed inspection commands `auditor host-evidence`
runs locally, run on the database host through one SSH connection (paramiko, the `[ssh]`
extra). Nothing is installed or left on the host, no agent is used, and the host key must
already be in the configured known_hosts file: an unknown or changed key ends the connection
before any command runs.

Commands that need root (cryptsetup status/luksDump) run through `sudo -n` when the remote
user is not root, so a sudoers rule can grant exactly those; reading crypttab and the modes of
its key files are tried as the user first and through `sudo -n` only if that is refused.
`sudo -n` never prompts: without a rule the command fails and the failure is the evidence.
"""

from __future__ import annotations

import logging
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.collectors.host_shell import FileStat, Output
from auditor.collectors.host_shell import _check_allowed as check_allowed
from auditor.config import SshAccess, resolve_secret
from auditor.extras import not_installed

if TYPE_CHECKING:
    import paramiko

# Inspection commands that read device-mapper state or raw LUKS headers: root only.
NEEDS_ROOT = {("cryptsetup", "status"), ("cryptsetup", "luksDump")}
# Non-login SSH sessions often lack sbin in PATH (cryptsetup, dmsetup live there), and the
# parsers expect untranslated output.
REMOTE_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C"
COMMAND_TIMEOUT = 30.0
MAX_OUTPUT = 4 * 1024 * 1024  # a hostile host must not fill our memory
_QUIET = logging.NullHandler()
SSH_EXTRA_HINT = not_installed("the SSH client", "ssh")


class SshError(Exception):
    """The host could not be inspected at all; the message is one line with the likely fix.
    `unreachable`: nothing answered (as opposed to a refused key or login)."""

    def __init__(self, message: str, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def remote_command(argv: list[str], sudo: bool) -> str:
    """The shell command line sent for `argv` (every word quoted: paths come from the host's
    own crypttab and must stay data). sudo comes after `env`, so the command sudo runs, and a
    sudoers rule has to allow, is the inspection command itself."""
    prefix = "sudo -n -- " if sudo else ""
    return f"env {REMOTE_ENV} {prefix}{shlex.join(argv)}"


class SshShell:
    """A HostShell on the far end of an SSH connection (see host_shell.HostShell)."""

    def __init__(
        self,
        client: paramiko.SSHClient,
        access: SshAccess,
        is_root: bool,
        deadline: float | None = None,
    ) -> None:
        self.client = client
        self.access = access
        self.is_root = is_root
        self.deadline = deadline  # time.monotonic() by which the target must be done

    def _sudo(self) -> bool:
        return self.access.sudo and not self.is_root

    def _exec(self, argv: list[str], sudo: bool) -> Output:
        import paramiko  # present: this shell holds a paramiko client

        timeout = COMMAND_TIMEOUT
        if self.deadline is not None:
            timeout = min(timeout, self.deadline - time.monotonic())
            if timeout <= 0:
                return Output(124, "", "ssh: the target's time budget is spent")
        try:
            return _exec(self.client, remote_command(argv, sudo), timeout)
        except (paramiko.SSHException, OSError, EOFError) as exc:  # the connection broke
            return Output(255, "", f"ssh: {type(exc).__name__}: {_one_line(str(exc))}")

    def run(self, argv: list[str]) -> Output:
        check_allowed(argv)
        needs_root = tuple(argv[:2]) in NEEDS_ROOT
        return self._exec(argv, sudo=needs_root and self._sudo())

    def _as_user_then_sudo(self, argv: list[str]) -> Output:
        out = self._exec(argv, sudo=False)
        if out.returncode != 0 and self._sudo():
            out = self._exec(argv, sudo=True)
        return out

    def read_text(self, path: str) -> str | None:
        out = self._as_user_then_sudo(["cat", "--", path])
        return out.stdout if out.returncode == 0 else None

    def stat(self, path: str) -> FileStat | None:
        out = self._as_user_then_sudo(["stat", "-L", "-c", "%a %u %g", "--", path])
        parts = out.stdout.split()
        if out.returncode != 0 or len(parts) != 3 or not all(p.isdigit() for p in parts):
            return None
        return FileStat(int(parts[0], 8) & 0o7777, int(parts[1]), int(parts[2]))

    def close(self) -> None:
        self.client.close()


def _exec(client: paramiko.SSHClient, command: str, timeout: float = COMMAND_TIMEOUT) -> Output:
    transport = client.get_transport()
    if transport is None or not transport.is_active():
        return Output(255, "", "ssh: connection closed")
    channel = transport.open_session(timeout=timeout)
    try:
        channel.settimeout(timeout)
        channel.exec_command(command)
        # Both streams drained together: one left unread could stall the other.
        out, err = bytearray(), bytearray()
        deadline = time.monotonic() + timeout
        while True:
            progressed = False
            if channel.recv_ready():
                out += channel.recv(65536)
                progressed = True
            if channel.recv_stderr_ready():
                err += channel.recv_stderr(65536)
                progressed = True
            if len(out) > MAX_OUTPUT or len(err) > MAX_OUTPUT:
                return Output(125, "", "ssh: output larger than 4 MiB, not read")
            if (
                channel.exit_status_ready()
                and not channel.recv_ready()
                and not channel.recv_stderr_ready()
            ):
                break
            if time.monotonic() > deadline:
                return Output(124, "", "ssh: timed out")
            if not progressed:
                time.sleep(0.005)
        status = channel.recv_exit_status()
    finally:
        channel.close()
    text = bytes(out).decode("utf-8", "replace")
    return Output(status, text, bytes(err).decode("utf-8", "replace"))


def _path(value: str, config_dir: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else config_dir / path


def connect(
    access: SshAccess, config_dir: Path, target: str, deadline: float | None = None
) -> SshShell:
    """An open SshShell, or SshError with one line saying what failed and what to do.
    `deadline` (time.monotonic()) caps the connection and every command after it."""
    try:
        import paramiko
    except ImportError:
        raise SshError(SSH_EXTRA_HINT) from None
    # paramiko's transport thread logs connection failures with tracebacks; the SshError
    # below already says what happened, in one line.
    logging.getLogger("paramiko").addHandler(_QUIET)
    where = f"{access.host}:{access.port}"
    known_hosts = _path(access.known_hosts, config_dir)
    key_file = _path(access.key, config_dir)
    passphrase = resolve_secret(access.passphrase, config_dir, target, "ssh passphrase")
    wait = access.connect_timeout_seconds
    if deadline is not None:
        wait = max(0.1, min(wait, deadline - time.monotonic()))
    client = paramiko.SSHClient()
    try:
        client.load_host_keys(str(known_hosts))
    except (OSError, UnicodeDecodeError) as exc:
        raise SshError(f"cannot read known_hosts file {known_hosts}: {_reason(exc)}") from None
    # Never trust on first use: a host not in known_hosts is refused, not added.
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        pkey = _load_key(paramiko, key_file, passphrase)
        client.connect(
            access.host,
            port=access.port,
            username=access.user,
            pkey=pkey,
            allow_agent=False,
            look_for_keys=False,
            timeout=wait,
            banner_timeout=wait,
            auth_timeout=wait,
        )
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise SshError(
            f"host key of {where} ({exc.key.get_name()}) does not match {known_hosts}: "
            "refusing to connect (if the host was really re-keyed, verify the new "
            "fingerprint and update known_hosts)"
        ) from None
    except paramiko.AuthenticationException:
        client.close()
        raise SshError(
            f"ssh login as {access.user!r} on {where} with key {key_file} was refused "
            "(is its public key in the user's authorized_keys?)"
        ) from None
    except paramiko.SSHException as exc:
        transport = client.get_transport()
        spoke_ssh = transport is not None and bool(getattr(transport, "remote_version", ""))
        client.close()
        if "not found in known_hosts" in str(exc):
            raise SshError(
                f"host key of {where} is not in {known_hosts}: refusing to connect (add it "
                f"after checking its fingerprint, e.g. ssh-keyscan -p {access.port} "
                f"{access.host})"
            ) from None
        if not spoke_ssh:  # a port that accepts connections but never speaks SSH
            raise SshError(
                f"cannot reach {where}: no SSH server answered within {wait:.3g} s "
                "(wrong port, or a firewall holding the connection?)",
                unreachable=True,
            ) from None
        raise SshError(f"ssh to {where} failed: {_one_line(str(exc))}") from None
    except TimeoutError:
        client.close()
        raise SshError(
            f"cannot reach {where}: no answer within {wait:g} s (host, port or firewall?)",
            unreachable=True,
        ) from None
    except OSError as exc:
        client.close()
        raise SshError(f"cannot reach {where}: {_reason(exc)}", unreachable=True) from None
    shell = SshShell(client, access, is_root=False, deadline=deadline)
    who = shell._exec(["id", "-u"], sudo=False)
    shell.is_root = who.returncode == 0 and who.stdout.strip() == "0"
    return shell


def _load_key(paramiko_module: Any, key_file: Path, passphrase: str | None) -> Any:
    """The private key, whatever its type; SshError naming the file (never its content)."""
    encrypted = SshError(
        f"ssh key {key_file} is encrypted: give ssh.passphrase ({{env: NAME}} or {{file: PATH}})"
    )
    try:
        # Bytes: PKey.from_path hands it to cryptography unchanged.
        return paramiko_module.PKey.from_path(
            key_file, passphrase.encode() if passphrase is not None else None
        )
    except OSError as exc:
        raise SshError(f"cannot read ssh key {key_file}: {_reason(exc)}") from None
    except paramiko_module.PasswordRequiredException:
        raise encrypted from None
    except TypeError:  # cryptography: "Password was not given but private key is encrypted"
        if passphrase is None:
            raise encrypted from None
        raise SshError(f"ssh key {key_file} is not a usable private key") from None
    except Exception:  # parse errors come as several types; their text may quote the file
        raise SshError(
            f"ssh key {key_file} is not a usable private key (or the passphrase is wrong)"
        ) from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return _one_line(str(exc)) or type(exc).__name__


def _one_line(text: str) -> str:
    return " ".join(text.split())
