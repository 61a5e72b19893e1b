"""Azure Key Vault for `azure-postgres` targets: the version history of declared secrets
(GET /secrets/{name}/versions: attributes only, never a value) and the rotation policies of
declared keys and of the server's customer-managed key (GET /keys/{name}/rotationpolicy).

Its own collector, after the flexible server's (whose facts name the server's key): a vault
that cannot be read costs only the key checks their facts.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from auditor.collectors.azure import (
    AzurePostgresFacts,
    AzureProblem,
    StaticToken,
    arm_credential,
    client_options,
)
from auditor.collectors.base import CollectContext, Collector, TargetProblem
from auditor.collectors.secrets import SecretInfo, SecretsFacts, declared_secret, now_iso
from auditor.config import AzurePostgresTarget, ConfigError, resolve_secret
from auditor.facts import Facts, FactSection, Gap, GapKind
from auditor.model import TargetStatus

PROVIDER = "azure-keyvault"
# Audiences a Key Vault challenge may ask a token for (public and sovereign clouds, Managed
# HSM). With key_vault_endpoint the SDK cannot match the challenge to the vault's host, so
# this is what keeps a token for anything else (Resource Manager...) from being handed out.
KEY_VAULT_AUDIENCES = frozenset(
    {
        "vault.azure.net",
        "vault.azure.cn",
        "vault.usgovcloudapi.net",
        "vault.microsoftazure.de",
        "managedhsm.azure.net",
        "managedhsm.azure.cn",
        "managedhsm.usgovcloudapi.net",
    }
)
SECRETS_PERMISSION = (
    "needs the Key Vault permission Microsoft.KeyVault/vaults/secrets/readMetadata/action "
    "(access policy: secrets List)"
)
KEYS_PERMISSION = (
    "needs the Key Vault permission Microsoft.KeyVault/vaults/keys/rotationpolicy/read "
    "(access policy: keys GetRotationPolicy)"
)


class RotationAction(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    action: str  # Rotate | Notify
    time_after_create: str | None = None  # ISO 8601 duration, e.g. P90D
    time_before_expiry: str | None = None


class KeyVaultKeyPolicy(BaseModel):
    """A Key Vault key's rotation policy, as GET /keys/{name}/rotationpolicy reports it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    reference: str  # https://VAULT/keys/NAME
    role: str  # "declared" | "server CMK"
    found: bool = True
    actions: tuple[RotationAction, ...] = ()
    expires_in: str | None = None  # expiryTime given to each new version
    policy_created: str | None = None  # None: the vault's default policy (never set)
    # Days between automatic rotations implied by the Rotate actions (timeAfterCreate, or
    # expiryTime - timeBeforeExpiry); None when there is no Rotate action that can fire.
    rotate_every_days: int | None = None
    unavailable: str | None = None


class AzureKeyVaultFacts(FactSection):
    section = "azure_key_vault"

    vault: str  # https://NAME.vault.azure.net
    keys: tuple[KeyVaultKeyPolicy, ...] = ()


class AzureKeyVaultCollector(Collector):
    name = "azure-key-vault"
    produces = frozenset({"azure_key_vault", "secrets"})
    kinds = frozenset({"azure-postgres"})
    order = 35  # after the flexible server: its facts name the server's own key

    def collect(self, ctx: CollectContext, facts: Facts) -> TargetProblem | None:
        target = ctx.target
        assert isinstance(target, AzurePostgresTarget)
        server = facts.get(AzurePostgresFacts) if facts.has(AzurePostgresFacts) else None
        if target.key_vault is None:
            # No vault, so no declared secrets: an empty section, but only beside a server
            # that was read (a target with nothing read reports its error on every check).
            if server is not None:
                facts.add(SecretsFacts(provider=PROVIDER, observed_at=now_iso()))
            return None
        try:
            credential = _key_vault_credential(ctx)
            secrets, keys = _key_vault_clients(ctx, credential)
            facts.add(collect_key_vault_secrets(secrets, target))
            facts.add(collect_key_vault_keys(keys, target, server))
        except AzureProblem as exc:
            # The server's own verdicts stand; only the Key Vault checks lose their facts.
            for section in (SecretsFacts.section, AzureKeyVaultFacts.section):
                facts.mark_missing(section, Gap(GapKind.ERROR, exc.reason))
            return TargetProblem(exc.status, exc.reason)
        return None


class KeyVaultScoped:
    """Hands out tokens for Key Vault audiences only, whatever a challenge asks for."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.exceptions import ClientAuthenticationError

        for scope in scopes:
            if (urlsplit(scope).hostname or "") not in KEY_VAULT_AUDIENCES:
                raise ClientAuthenticationError(
                    f"refused a token for {scope!r}: not a Key Vault audience"
                )
        return self._inner.get_token(*scopes, **kwargs)

    def __repr__(self) -> str:
        return f"KeyVaultScoped({self._inner!r})"


def _key_vault_credential(ctx: CollectContext) -> Any:
    target = ctx.target
    assert isinstance(target, AzurePostgresTarget)
    try:
        token = resolve_secret(
            target.key_vault_access_token, ctx.config_dir, target.name, "Key Vault access token"
        )
    except ConfigError as exc:
        raise AzureProblem(TargetStatus.ERROR, str(exc)) from None
    if token is not None:
        return KeyVaultScoped(StaticToken(token))
    if ctx.password is not None:
        # A Resource Manager token is for another audience: Key Vault would reject it.
        raise AzureProblem(
            TargetStatus.ERROR,
            "access_token is a Resource Manager token; Key Vault needs key_vault_access_token "
            "(az account get-access-token --resource https://vault.azure.net)",
        )
    return KeyVaultScoped(arm_credential(ctx))


def _key_vault_clients(ctx: CollectContext, credential: Any) -> tuple[Any, Any]:
    target = ctx.target
    assert isinstance(target, AzurePostgresTarget) and target.key_vault is not None
    try:
        from azure.keyvault.keys import KeyClient
        from azure.keyvault.secrets import SecretClient
    except ImportError:
        raise AzureProblem(
            TargetStatus.ERROR,
            "the Key Vault clients are not installed: pip install 'pg-encryption-auditor[azure]'",
        ) from None
    vault_options = client_options(ctx)
    if target.key_vault_endpoint:
        # The challenge names the vault's audience (vault.azure.net), which cannot match
        # another host; KeyVaultScoped still limits the token to Key Vault audiences.
        vault_options["verify_challenge_resource"] = False
    url = target.key_vault_endpoint or target.key_vault
    return (
        SecretClient(url, credential, **vault_options),
        KeyClient(url, credential, **vault_options),
    )


def _vault_problem(exc: Exception, target: AzurePostgresTarget) -> AzureProblem:
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
    )

    vault = target.key_vault
    if isinstance(exc, ClientAuthenticationError):
        reason = getattr(exc, "message", None) or type(exc).__name__
        return AzureProblem(
            TargetStatus.ERROR,
            f"Key Vault {vault} rejected the credentials: {str(reason).splitlines()[0]}",
        )
    if isinstance(exc, ServiceRequestError):
        return AzureProblem(
            TargetStatus.UNREACHABLE, f"cannot reach Key Vault {vault}: {type(exc).__name__}"
        )
    if isinstance(exc, HttpResponseError):
        code = getattr(getattr(exc, "error", None), "code", None) or exc.status_code
        return AzureProblem(TargetStatus.ERROR, f"Key Vault {vault} error {code}")
    return AzureProblem(TargetStatus.ERROR, f"Key Vault {vault}: {type(exc).__name__}")


def _denied(exc: Exception) -> bool:
    from azure.core.exceptions import HttpResponseError

    return isinstance(exc, HttpResponseError) and exc.status_code == 403


def _not_found(exc: Exception) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    return isinstance(exc, ResourceNotFoundError)


def _utc(moment: Any) -> str | None:
    import datetime as dt

    if not isinstance(moment, dt.datetime):
        return None
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def collect_key_vault_secrets(client: Any, target: AzurePostgresTarget) -> SecretsFacts:
    """Version history of each declared secret (`client`: a SecretClient). Only
    list_properties_of_secret_versions is called: it returns attributes, never values."""
    assert target.key_vault is not None
    vault = target.key_vault.rstrip("/")
    found: list[SecretInfo] = []
    for declared in target.secrets:
        base = declared_secret(declared)
        reference = f"{vault}/secrets/{declared.name}"
        try:
            versions = list(client.list_properties_of_secret_versions(declared.name))
        except Exception as exc:
            if _not_found(exc):
                found.append(SecretInfo(**base, found=False, reference=reference))
                continue
            if _denied(exc):
                found.append(
                    SecretInfo(
                        **base, found=False, reference=reference, unavailable=SECRETS_PERMISSION
                    )
                )
                continue
            raise _vault_problem(exc, target) from None
        by_age = sorted((v for v in versions if v.created_on), key=lambda v: v.created_on)
        if not by_age:
            found.append(SecretInfo(**base, found=False, reference=reference))
            continue
        enabled = [v for v in by_age if v.enabled]
        current = enabled[-1] if enabled else None
        # The newest enabled version is the value in use; the first version ever set means
        # the secret was never rotated and its age counts from creation.
        rotated = current is not None and current.version != by_age[0].version
        found.append(
            SecretInfo(
                **base,
                found=True,
                reference=reference,
                rotation_enabled=None,  # Key Vault secrets have no built-in rotation
                created=_utc(by_age[0].created_on),
                last_changed=_utc(max((v.updated_on or v.created_on) for v in by_age)),
                last_rotated=_utc(current.created_on) if rotated and current else None,
                expires=_utc(current.expires_on) if current else None,
            )
        )
    return SecretsFacts(provider=PROVIDER, observed_at=now_iso(), secrets=tuple(found))


def _cmk_name(server: AzurePostgresFacts | None, vault: str) -> str | None:
    """The key name of the server's customer-managed key when it lives in `vault`."""
    uri = server.primary_key_uri if server is not None else None
    if server is None or server.data_encryption_type != "AzureKeyVault" or not uri:
        return None
    parts = urlsplit(uri)
    path = parts.path.strip("/").split("/")
    if parts.hostname != urlsplit(vault).hostname or len(path) < 2 or path[0] != "keys":
        return None
    return path[1]


def collect_key_vault_keys(
    client: Any, target: AzurePostgresTarget, server: AzurePostgresFacts | None
) -> AzureKeyVaultFacts:
    """Rotation policy of each declared key and of the server's CMK when it is in the
    configured vault (`client`: a KeyClient; get_key_rotation_policy only)."""
    assert target.key_vault is not None
    vault = target.key_vault.rstrip("/")
    names = [(name, "declared") for name in target.keys]
    cmk = _cmk_name(server, vault)
    if cmk and cmk not in target.keys:
        names.append((cmk, "server CMK"))
    keys: list[KeyVaultKeyPolicy] = []
    for name, role in names:
        base = {"name": name, "reference": f"{vault}/keys/{name}", "role": role}
        try:
            policy = client.get_key_rotation_policy(name)
        except Exception as exc:
            if _not_found(exc):
                keys.append(KeyVaultKeyPolicy(**base, found=False))
                continue
            if _denied(exc):
                keys.append(KeyVaultKeyPolicy(**base, unavailable=KEYS_PERMISSION))
                continue
            raise _vault_problem(exc, target) from None
        actions = tuple(
            RotationAction(
                action=str(getattr(a.action, "value", a.action)),
                time_after_create=a.time_after_create,
                time_before_expiry=a.time_before_expiry,
            )
            for a in policy.lifetime_actions or ()
        )
        keys.append(
            KeyVaultKeyPolicy(
                **base,
                actions=actions,
                expires_in=policy.expires_in,
                policy_created=_utc(policy.created_on),
                rotate_every_days=rotation_interval_days(actions, policy.expires_in),
            )
        )
    return AzureKeyVaultFacts(vault=vault, keys=tuple(keys))


_DURATION = re.compile(
    r"P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+)S)?)?"
)


def duration_days(value: str | None) -> float | None:
    """An ISO 8601 duration (P90D, P1Y, P3M, PT12H) in days; a year is 365 days and a month
    30, as Key Vault counts them. None when absent or not a duration."""
    if not value:
        return None
    match = _DURATION.fullmatch(value.strip().upper())
    if not match or value.strip().upper() in ("P", "PT"):
        return None
    n = {k: int(v) for k, v in match.groupdict(default="0").items()}
    return (
        n["y"] * 365
        + n["mo"] * 30
        + n["w"] * 7
        + n["d"]
        + n["h"] / 24
        + n["mi"] / 1440
        + n["s"] / 86400
    )


def rotation_interval_days(
    actions: tuple[RotationAction, ...], expires_in: str | None
) -> int | None:
    """Days between automatic rotations: the shortest Rotate action. timeAfterCreate counts
    from each version's creation; timeBeforeExpiry fires expiryTime - timeBeforeExpiry after
    it, and never when new versions get no expiryTime."""
    found: list[float] = []
    for action in actions:
        if action.action.lower() != "rotate":
            continue
        after = duration_days(action.time_after_create)
        if after is not None:
            found.append(after)
            continue
        before, lifetime = duration_days(action.time_before_expiry), duration_days(expires_in)
        if before is not None and lifetime is not None and lifetime > before:
            found.append(lifetime - before)
    return math.ceil(min(found)) if found else None
