"""Layer 3 on self-hosted machines: are the data directory, WAL, temp and WAL-archive paths on
dm-crypt LUKS with a strong cipher, and does the volume come back after a reboot safely?"""

from __future__ import annotations

from auditor.checks.base import Check
from auditor.collectors.host import CryptLayer, HostFacts, PathStorage
from auditor.facts import Facts
from auditor.model import Result, Severity

HOST = frozenset({"host"})
# AES-256 in XTS mode uses a 512-bit key (two AES-256 keys); 256 bits there is AES-128.
# CBC-ESSIV and other legacy modes are malleable on disk: the design asks for XTS.
MIN_XTS_KEY_BITS = 512


def _weakness(layer: CryptLayer) -> str | None:
    cipher = (layer.luks_segment_cipher or layer.cipher or "").lower()
    if not (layer.type or "").upper().startswith("LUKS"):
        return f"{layer.mapping} is dm-crypt type {layer.type or 'unknown'}, not LUKS"
    if not cipher.startswith("aes-xts-"):
        return (
            f"{layer.mapping} uses {cipher or 'an unknown cipher'} "
            f"(policy: aes-xts with a {MIN_XTS_KEY_BITS}-bit key)"
        )
    if layer.key_bits is None or layer.key_bits < MIN_XTS_KEY_BITS:
        return (
            f"{layer.mapping} uses {cipher} with a {layer.key_bits}-bit key, i.e. "
            f"AES-{(layer.key_bits or 0) // 2} (policy: {MIN_XTS_KEY_BITS}-bit, AES-256)"
        )
    return None


def _describe(p: PathStorage) -> str:
    chain = " <- ".join(
        f"{d.name} ({d.type}{', ' + d.fstype if d.fstype else ''})" for d in p.chain
    )
    return chain or f"{p.mount_source} ({p.fstype})"


class LuksDataDirectory(Check):
    id = "storage.luks_data_directory"
    title = "Data directory, WAL, temp and WAL archive sit on LUKS (AES-256-XTS)"
    severity = Severity.CRITICAL
    rationale = (
        "On self-hosted machines disk encryption is the storage layer: every file "
        "PostgreSQL writes (data, WAL, temp, archive) must be below a LUKS mapping."
    )
    remediation = (
        "Move the path onto a LUKS2 volume created with --cipher aes-xts-plain64 "
        "--key-size 512, and point PostgreSQL (or the archive command) at it."
    )
    requires = (HostFacts,)
    kinds = HOST

    def run(self, facts: Facts) -> list[Result]:
        host = facts.get(HostFacts)
        if not host.paths:
            return [self.skipped(facts, "nothing to judge: no storage path was inspected")]
        results = []
        for p in host.paths:
            resource = f"{p.role}:{p.path}"
            evidence = {
                "source": host.source,
                "mount_source": p.mount_source,
                "fstype": p.fstype,
                "device_chain": [d.model_dump(mode="json") for d in p.chain],
                "crypt": [c.model_dump(mode="json") for c in p.crypt],
            }
            if p.error:
                results.append(
                    self.errored(
                        facts, f"{p.path}: {p.error}", resource=resource, evidence=evidence
                    )
                )
                continue
            if not p.crypt:
                results.append(
                    self.failed(
                        facts,
                        f"{p.path} is not encrypted: {_describe(p)}",
                        resource=resource,
                        evidence=evidence,
                    )
                )
                continue
            weak = [w for w in (_weakness(c) for c in p.crypt) if w]
            if weak:
                results.append(
                    self.failed(
                        facts, f"{p.path}: " + "; ".join(weak), resource=resource, evidence=evidence
                    )
                )
                continue
            layer = p.crypt[0]
            results.append(
                self.passed(
                    facts,
                    f"{p.path} on {layer.mapping} ({layer.type}, "
                    f"{layer.luks_segment_cipher or layer.cipher}, {layer.key_bits}-bit key)",
                    resource=resource,
                    evidence=evidence,
                )
            )
        return results


class LuksAutomount(Check):
    id = "storage.luks_automount"
    title = "LUKS volumes are in crypttab and their key files are root-only"
    severity = Severity.LOW
    rationale = (
        "A volume missing from crypttab does not come back after a reboot; a key file "
        "readable by others defeats the encryption of the disk it sits next to."
    )
    remediation = (
        "Add the mapping to /etc/crypttab; chown root:root and chmod 0400 its key "
        "file (or unlock it from a network key server / TPM instead)."
    )
    requires = (HostFacts,)
    kinds = HOST

    def run(self, facts: Facts) -> list[Result]:
        host = facts.get(HostFacts)
        mappings = sorted({c.mapping.rsplit("/", 1)[-1] for p in host.paths for c in p.crypt})
        if not mappings:
            return [self.skipped(facts, "no LUKS volume under the storage paths")]
        if host.crypttab is None:
            return [
                self.failed(
                    facts,
                    f"{host.crypttab_path} is missing or unreadable",
                    resource=host.crypttab_path,
                )
            ]
        entries = {e.name: e for e in host.crypttab}
        results = []
        for name in mappings:
            entry = entries.get(name)
            if entry is None:
                results.append(
                    self.failed(facts, f"{name}: no entry in {host.crypttab_path}", resource=name)
                )
                continue
            evidence = {
                "crypttab": f"{host.crypttab_path}:{entry.line}",
                "keyfile": entry.keyfile,
                "mode": entry.keyfile_mode,
                "owner_uid": entry.keyfile_owner_uid,
            }
            where = f"{host.crypttab_path}:{entry.line}"
            if entry.keyfile and entry.keyfile.startswith("/"):
                if entry.keyfile_mode is None:
                    results.append(
                        self.errored(
                            facts,
                            f"{name}: key file {entry.keyfile} ({where}) not found",
                            resource=name,
                            evidence=evidence,
                        )
                    )
                    continue
                loose = int(entry.keyfile_mode, 8) & 0o077 or entry.keyfile_owner_uid != 0
                if loose:
                    results.append(
                        self.failed(
                            facts,
                            f"{name}: key file {entry.keyfile} is mode {entry.keyfile_mode} "
                            f"owned by uid {entry.keyfile_owner_uid} ({where})",
                            resource=name,
                            evidence=evidence,
                        )
                    )
                    continue
            results.append(
                self.passed(
                    facts,
                    f"{name}: in crypttab ({where})"
                    + (
                        f", key file {entry.keyfile} root-only"
                        if entry.keyfile
                        else ", passphrase at boot"
                    ),
                    resource=name,
                    evidence=evidence,
                )
            )
        return results
