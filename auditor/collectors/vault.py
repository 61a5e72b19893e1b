"""HashiCorp Vault collector for `vault` targets: KV v2 metadata (creation time of the
current version, version history) of each declared secret. Values are never read."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from auditor.collectors.base import CollectContext, Collector, TargetProblem
from auditor.collectors.secrets import SecretInfo, SecretsFacts, declared_secret, now_iso
from auditor.config import VaultTarget
from auditor.extras import not_installed
from auditor.facts import Facts, Gap, GapKind
from auditor.model import TargetStatus


def vault_time(value: str | None) -> str | None:
    """Vault writes nanoseconds (…06.945319214Z); Python parses at most microseconds."""
    if not value or value.startswith("0001-01-01"):
        return None
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00")
    return trimmed


class VaultCollector(Collector):
    name = "vault"
    produces = frozenset({"secrets"})
    kinds = frozenset({"vault"})
    order = 30

    def collect(self, ctx: CollectContext, facts: Facts) -> TargetProblem | None:
        target = ctx.target
        assert isinstance(target, VaultTarget)
        try:
            import hvac
        except ImportError:
            return _fail(
                facts,
                TargetStatus.ERROR,
                not_installed("the Vault client", "vault"),
            )
        if not ctx.password:
            return _fail(
                facts, TargetStatus.ERROR, "no Vault token (token: in config or VAULT_TOKEN)"
            )
        verify: bool | str = True
        if target.ca_bundle:
            verify = str(ctx.config_dir / Path(target.ca_bundle))
        client = hvac.Client(
            url=target.address,
            token=ctx.password,
            verify=verify,
            namespace=target.namespace,
            timeout=30,
        )
        try:
            facts.add(collect_kv2_metadata(client, target))
        except VaultProblem as exc:
            return _fail(facts, exc.status, exc.reason)
        return None


class VaultProblem(Exception):
    def __init__(self, status: TargetStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _fail(facts: Facts, status: TargetStatus, reason: str) -> TargetProblem:
    facts.mark_missing(SecretsFacts.section, Gap(GapKind.ERROR, reason))
    return TargetProblem(status, reason)


def collect_kv2_metadata(client: Any, target: VaultTarget) -> SecretsFacts:
    import requests
    from hvac import exceptions

    found: list[SecretInfo] = []
    for declared in target.secrets:
        base = declared_secret(declared)
        try:
            answer = client.secrets.kv.v2.read_secret_metadata(
                path=declared.name, mount_point=target.mount
            )
        except exceptions.InvalidPath:
            found.append(SecretInfo(**base, found=False))
            continue
        except exceptions.Forbidden:
            found.append(
                SecretInfo(
                    **base,
                    found=False,
                    unavailable=(
                        f"needs Vault policy capability 'read' on {target.mount}/metadata/"
                        f"{declared.name}"
                    ),
                )
            )
            continue
        except exceptions.Unauthorized:
            raise VaultProblem(TargetStatus.ERROR, "Vault rejected the token") from None
        except requests.RequestException as exc:
            raise VaultProblem(
                TargetStatus.UNREACHABLE,
                f"cannot reach Vault at {target.address}: {type(exc).__name__}",
            ) from None
        except exceptions.VaultError as exc:
            raise VaultProblem(TargetStatus.ERROR, f"Vault error: {type(exc).__name__}") from None
        data = answer.get("data") or {}
        current = str(data.get("current_version", ""))
        version = (data.get("versions") or {}).get(current) or {}
        found.append(
            SecretInfo(
                **base,
                found=True,
                reference=f"{target.mount}/data/{declared.name}",
                rotation_enabled=None,  # KV v2 stores versions; rotating them is someone's job
                created=vault_time(data.get("created_time")),
                last_changed=vault_time(data.get("updated_time")),
                last_rotated=vault_time(version.get("created_time")) if current != "1" else None,
            )
        )
    return SecretsFacts(provider="vault-kv2", observed_at=now_iso(), secrets=tuple(found))
