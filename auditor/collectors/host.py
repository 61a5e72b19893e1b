"""Host collector for `host` targets: the block-device chain under each storage path (data
directory, WAL, temp, WAL archive), dm-crypt/LUKS details of every crypt layer, and
/etc/crypttab with the permissions of its key files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from auditor.collectors.base import CollectContext, Collector, TargetProblem
from auditor.collectors.host_shell import EvidenceShell, HostShell, LocalShell
from auditor.config import HostTarget
from auditor.facts import Facts, FactSection, Gap, GapKind
from auditor.model import TargetStatus


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BlockDevice(_Row):
    name: str
    type: str | None
    fstype: str | None


class CryptLayer(_Row):
    mapping: str  # dm name, e.g. /dev/mapper/pgdata
    type: str | None  # LUKS1 | LUKS2 | PLAIN ...
    cipher: str | None  # e.g. aes-xts-plain64
    key_bits: int | None
    backing_device: str | None
    luks_segment_cipher: str | None = None  # from the LUKS2 header, when readable
    luks_kdf: tuple[str, ...] = ()


class PathStorage(_Row):
    role: str
    path: str
    mount_source: str | None
    fstype: str | None
    chain: tuple[BlockDevice, ...] = ()
    crypt: tuple[CryptLayer, ...] = ()
    error: str | None = None


class CrypttabEntry(_Row):
    line: int
    name: str
    device: str
    keyfile: str | None
    options: str | None
    keyfile_mode: str | None = None  # octal, e.g. "0400"
    keyfile_owner_uid: int | None = None


HOST_EVIDENCE_NAME = "host-evidence.json"
HOST_EVIDENCE_PREDICATE = "https://auditor.invalid/attestation/host-evidence/v1"


class HostFacts(FactSection):
    section = "host"

    source: str  # "local" or the evidence file
    paths: tuple[PathStorage, ...]
    crypttab_path: str
    crypttab: tuple[CrypttabEntry, ...] | None  # None: not readable


class HostCollector(Collector):
    name = "host"
    produces = frozenset({"host"})
    kinds = frozenset({"host"})
    order = 30

    def collect(self, ctx: CollectContext, facts: Facts) -> TargetProblem | None:
        target = ctx.target
        assert isinstance(target, HostTarget)
        shell: HostShell
        if target.evidence:
            path = Path(target.evidence)
            path = path if path.is_absolute() else ctx.config_dir / path
            try:
                if target.public_key:
                    signer = _check_signed(path, ctx.config_dir / target.public_key)
                    source = f"{path} (signed by {signer})"
                else:
                    source = str(path)
                shell = EvidenceShell(path)
            except (OSError, ValueError, HostEvidenceUntrusted) as exc:
                reason = f"cannot read host evidence {path}: {exc}"
                facts.mark_missing(HostFacts.section, Gap(GapKind.ERROR, reason))
                return TargetProblem(TargetStatus.ERROR, reason)
        elif target.ssh is not None:
            return _collect_over_ssh(ctx, target, facts)
        else:
            shell, source = LocalShell(), "local"
        facts.add(inspect_host(shell, target, source))
        return None


def _collect_over_ssh(
    ctx: CollectContext, target: HostTarget, facts: Facts
) -> TargetProblem | None:
    """The same inspection on the database host, through one SSH connection; a host that
    cannot be reached, authenticated or trusted is one error line for this target."""
    from auditor.collectors.host_ssh import SshError, connect
    from auditor.config import ConfigError

    assert target.ssh is not None
    try:
        shell = connect(target.ssh, ctx.config_dir, target.name, ctx.deadline)
    except (SshError, ConfigError) as exc:
        facts.mark_missing(HostFacts.section, Gap(GapKind.ERROR, str(exc)))
        unreachable = isinstance(exc, SshError) and exc.unreachable
        return TargetProblem(
            TargetStatus.UNREACHABLE if unreachable else TargetStatus.ERROR, str(exc)
        )
    try:
        facts.add(inspect_host(shell, target, target.ssh.label()))
    finally:
        shell.close()
    return None


class HostEvidenceUntrusted(Exception):
    """The evidence file's signature is missing or does not hold for the configured key."""


def _check_signed(path: Path, public_key: Path) -> str:
    """The key id that signed `path` as it is now; HostEvidenceUntrusted otherwise."""
    from auditor.signing import EnvelopeError, SigningError, load_trusted_key, verify_document

    try:
        key = load_trusted_key(public_key)
        document = json.loads(path.read_text())
        if not isinstance(document, dict):
            raise EnvelopeError("not a JSON object")
        return verify_document(document, HOST_EVIDENCE_NAME, HOST_EVIDENCE_PREDICATE, [key]).keyid
    except (SigningError, EnvelopeError) as exc:
        raise HostEvidenceUntrusted(f"signature check failed: {exc}") from None


def inspect_host(shell: HostShell, target: HostTarget, source: str = "local") -> HostFacts:
    return HostFacts(
        source=source,
        paths=tuple(
            _path_storage(shell, role, path) for role, path in target.storage_paths().items()
        ),
        crypttab_path=target.crypttab,
        crypttab=_crypttab(shell, target.crypttab),
    )


def _json(out: str) -> Any:
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        return None


def _path_storage(shell: HostShell, role: str, path: str) -> PathStorage:
    found = shell.run(["findmnt", "-J", "-T", path, "-o", "TARGET,SOURCE,FSTYPE"])
    data = _json(found.stdout) if found.returncode == 0 else None
    if not data or not data.get("filesystems"):
        reason = (found.stderr.strip() or "no mount found").splitlines()[0]
        return PathStorage(
            role=role, path=path, mount_source=None, fstype=None, error=f"findmnt: {reason}"
        )
    fs = data["filesystems"][0]
    source, fstype = fs.get("source"), fs.get("fstype")
    chain: list[BlockDevice] = []
    crypt: list[CryptLayer] = []
    if source and source.startswith("/dev/"):
        tree = shell.run(["lsblk", "-J", "-s", "-p", "-o", "NAME,TYPE,FSTYPE", source])
        parsed = _json(tree.stdout) if tree.returncode == 0 else None
        node = (parsed or {}).get("blockdevices", [None])[0]
        # With -s the tree is inverted: each node's children are the devices beneath it.
        while node:
            chain.append(
                BlockDevice(name=node["name"], type=node.get("type"), fstype=node.get("fstype"))
            )
            if node.get("type") == "crypt":
                crypt.append(_crypt_layer(shell, node["name"]))
            children = node.get("children") or []
            node = children[0] if children else None
    return PathStorage(
        role=role,
        path=path,
        mount_source=source,
        fstype=fstype,
        chain=tuple(chain),
        crypt=tuple(crypt),
    )


def _crypt_layer(shell: HostShell, mapping: str) -> CryptLayer:
    status = shell.run(["cryptsetup", "status", mapping])
    fields: dict[str, str] = {}
    for line in status.stdout.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    bits = fields.get("keysize", "").split(" ")[0]
    backing = fields.get("device")
    segment_cipher: str | None = None
    kdf: tuple[str, ...] = ()
    if backing and fields.get("type", "").upper() == "LUKS2":
        dump = shell.run(["cryptsetup", "luksDump", "--dump-json-metadata", backing])
        header = _json(dump.stdout) if dump.returncode == 0 else None
        if header:
            segment_cipher, kdf = parse_luks2_header(header)
    return CryptLayer(
        mapping=mapping,
        type=fields.get("type"),
        cipher=fields.get("cipher"),
        key_bits=int(bits) if bits.isdigit() else None,
        backing_device=backing,
        luks_segment_cipher=segment_cipher,
        luks_kdf=kdf,
    )


def parse_luks2_header(header: dict[str, Any]) -> tuple[str | None, tuple[str, ...]]:
    """(data segment cipher, key-slot KDF types) from `luksDump --dump-json-metadata`."""
    segments = header.get("segments") or {}
    first: dict[str, Any] = segments.get("0") or next(iter(segments.values()), {})
    kdfs = sorted(
        {slot.get("kdf", {}).get("type", "?") for slot in (header.get("keyslots") or {}).values()}
    )
    return first.get("encryption"), tuple(kdfs)


def _crypttab(shell: HostShell, path: str) -> tuple[CrypttabEntry, ...] | None:
    text = shell.read_text(path)
    if text is None:
        return None
    entries = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 2:
            continue
        keyfile = parts[2] if len(parts) > 2 and parts[2] not in ("none", "-") else None
        mode = owner = None
        if keyfile and keyfile.startswith("/"):
            st = shell.stat(keyfile)
            if st is not None:
                mode, owner = f"{st.mode:04o}", st.uid
        entries.append(
            CrypttabEntry(
                line=number,
                name=parts[0],
                device=parts[1],
                keyfile=keyfile,
                options=parts[3] if len(parts) > 3 else None,
                keyfile_mode=mode,
                keyfile_owner_uid=owner,
            )
        )
    return tuple(entries)
