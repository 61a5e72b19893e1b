"""Where a secret is kept, as a config names it: `{env: NAME}`, `{file: PATH}` and, for a
database password, a secret store or a platform's token service.

A reference is never the secret itself: models here hold names, paths and addresses only, so
they can be dumped, hashed into the config digest and shown in errors. The values are fetched
when a target is scanned (auditor.secret_stores), never written anywhere.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator


class EnvPassword(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    env: str


class FilePassword(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    file: str


PasswordRef = EnvPassword | FilePassword

_ARN = re.compile(r"arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):\d{12}:secret:.+")


class AwsSecretPassword(BaseModel):
    """AWS Secrets Manager: `{aws_secret: NAME_OR_ARN, region:, key: password}`. A JSON secret
    (as RDS writes them) gives the value under `key` (default `password`); a plain-string
    secret is the password itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    aws_secret: Annotated[str, Field(min_length=1, max_length=2048)]
    region: str | None = None  # default: the ARN's region, else the SDK's configured one
    key: str | None = None
    version_stage: str | None = None  # default: AWSCURRENT
    profile: str | None = None
    endpoint_url: Annotated[str, Field(pattern=r"^https?://")] | None = None

    @property
    def resolved_region(self) -> str | None:
        found = _ARN.fullmatch(self.aws_secret)
        return self.region or (found.group(1) if found else None)


class AzureKeyVaultPassword(BaseModel):
    """Azure Key Vault: `{azure_key_vault: https://V.vault.azure.net, secret: NAME}`, read with
    the default Azure credential chain or a Key Vault token from env/file."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    azure_key_vault: Annotated[str, Field(pattern=r"^https://[^/\s]+/?$")]
    secret: Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{1,127}$")]
    version: Annotated[str, Field(pattern=r"^[0-9A-Za-z]{1,64}$")] | None = None
    access_token: PasswordRef | None = None  # a token for https://vault.azure.net
    # Where requests go instead of the vault's own host (a private endpoint, tests).
    endpoint: Annotated[str, Field(pattern=r"^https://")] | None = None
    ca_bundle: str | None = None


class GcpSecretPassword(BaseModel):
    """Google Secret Manager: `{gcp_secret: projects/P/secrets/S[/versions/V]}` (version
    default `latest`), read with application default credentials or a token from env/file."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    gcp_secret: Annotated[
        str,
        Field(
            pattern=r"^projects/[a-z0-9.:-]+/secrets/[A-Za-z0-9_-]{1,255}"
            r"(/versions/(latest|[0-9]+))?$"
        ),
    ]
    access_token: PasswordRef | None = None
    endpoint: Annotated[str, Field(pattern=r"^https?://")] | None = None

    @property
    def version_name(self) -> str:
        return (
            self.gcp_secret
            if "/versions/" in self.gcp_secret
            else self.gcp_secret + "/versions/latest"
        )


class VaultPassword(BaseModel):
    """HashiCorp Vault KV version 2: `{vault: PATH, address:, key: password}`; address and
    token default to VAULT_ADDR and VAULT_TOKEN as for the vault CLI."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    vault: Annotated[str, Field(min_length=1, max_length=1024)]
    address: Annotated[str, Field(pattern=r"^https?://")] | None = None
    key: Annotated[str, Field(min_length=1)] = "password"
    mount: Annotated[str, Field(min_length=1)] = "secret"
    token: PasswordRef | None = None
    namespace: str | None = None
    ca_bundle: str | None = None

    @field_validator("vault")
    @classmethod
    def _path(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError(f"{value!r} is not a KV path (like app/prod/db, relative to mount)")
        return value


class RdsIamPassword(BaseModel):
    """An RDS IAM authentication token (15 minutes) generated for the DSN's host, port and
    user from the AWS SDK's credentials: `{rds_iam: true, region: eu-west-1}`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    rds_iam: Literal[True]
    region: str | None = None
    profile: str | None = None


class AzureAdPassword(BaseModel):
    """A Microsoft Entra ID (Azure AD) access token for Azure Database for PostgreSQL, from
    the default Azure credential chain: `{azure_ad: true}`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    azure_ad: Literal[True]


class GcpIamPassword(BaseModel):
    """Cloud SQL IAM database authentication: an OAuth access token from application default
    credentials is the password: `{gcp_iam: true}`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    gcp_iam: Literal[True]


StoreRef = (
    AwsSecretPassword
    | AzureKeyVaultPassword
    | GcpSecretPassword
    | VaultPassword
    | RdsIamPassword
    | AzureAdPassword
    | GcpIamPassword
)

# The key that picks each kind of reference; the class name is pydantic's tag for it, which
# config error messages know to leave out of a key's dotted path.
REF_KEYS: dict[str, str] = {
    "EnvPassword": "env",
    "FilePassword": "file",
    "AwsSecretPassword": "aws_secret",
    "AzureKeyVaultPassword": "azure_key_vault",
    "GcpSecretPassword": "gcp_secret",
    "VaultPassword": "vault",
    "RdsIamPassword": "rds_iam",
    "AzureAdPassword": "azure_ad",
    "GcpIamPassword": "gcp_iam",
}
STORE_FORMS = (
    "{env: VARIABLE}, {file: PATH}, {aws_secret: NAME}, {azure_key_vault: URL, secret: NAME}, "
    "{gcp_secret: projects/P/secrets/S}, {vault: PATH}, {rds_iam: true}, {azure_ad: true} "
    "or {gcp_iam: true}"
)


def _ref_kind(value: Any) -> str | None:
    """Which reference a mapping is, by the key that names its kind; a non-mapping is judged
    as `{env: ...}` so that an inline password gets the 'never written in the config' message."""
    if isinstance(value, BaseModel):
        return type(value).__name__
    if not isinstance(value, dict):
        return "EnvPassword"
    for cls, key in REF_KEYS.items():
        if key in value:
            return cls
    return None


DatabasePasswordRef = Annotated[
    Annotated[EnvPassword, Tag("EnvPassword")]
    | Annotated[FilePassword, Tag("FilePassword")]
    | Annotated[AwsSecretPassword, Tag("AwsSecretPassword")]
    | Annotated[AzureKeyVaultPassword, Tag("AzureKeyVaultPassword")]
    | Annotated[GcpSecretPassword, Tag("GcpSecretPassword")]
    | Annotated[VaultPassword, Tag("VaultPassword")]
    | Annotated[RdsIamPassword, Tag("RdsIamPassword")]
    | Annotated[AzureAdPassword, Tag("AzureAdPassword")]
    | Annotated[GcpIamPassword, Tag("GcpIamPassword")],
    Discriminator(
        _ref_kind,
        custom_error_type="password_reference",
        custom_error_message="not a password reference",
    ),
]
