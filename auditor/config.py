"""Scan configuration: YAML validated into typed models, with errors that name file:line:key.

Passwords are references (`{env: NAME}` or `{file: PATH}`), resolved only when a target is
scanned, and never part of any model's repr, so they cannot leak into logs or outputs.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from auditor.policy import Policy


class ConfigError(Exception):
    """A one-line, user-facing description of what is wrong and where."""


class EnvPassword(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    env: str


class FilePassword(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    file: str


PasswordRef = EnvPassword | FilePassword


def resolve_secret(ref: PasswordRef | None, base_dir: Path, target: str, what: str) -> str | None:
    """A secret's value from the environment or a file (relative to the config's folder);
    raises ConfigError naming the source, never the value."""
    if ref is None:
        return None
    if isinstance(ref, EnvPassword):
        value = os.environ.get(ref.env)
        if value is None:
            raise ConfigError(
                f"target {target!r}: {what} environment variable {ref.env} is not set"
            )
        return value
    path = Path(ref.file).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    try:
        return path.read_text().strip("\r\n")
    except OSError as exc:
        raise ConfigError(
            f"target {target!r}: cannot read {what} file {path}: {exc.strerror}"
        ) from None


SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@cache
def _libpq_keywords() -> frozenset[str]:
    from psycopg import pq

    return frozenset(o.keyword.decode() for o in pq.Conninfo.get_defaults())


def _check_dsn(value: str) -> str:
    """A PostgreSQL URL that libpq will accept, judged here so a typo is a config error
    (exit 2) rather than a target that fails later. Messages never repeat the URL: it may
    hold a password."""
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises on a non-numeric port
    except ValueError as exc:
        raise ValueError(f"not a valid PostgreSQL URL ({exc})") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError("must start with postgresql://")
    if not parts.hostname:
        raise ValueError("names no host")
    params = parse_qsl(parts.query, keep_blank_values=True)
    for key, param in params:
        if key not in _libpq_keywords():
            raise ValueError(f"unknown connection parameter {key!r} in the URL query")
        if key == "sslmode" and param not in SSLMODES:
            raise ValueError(f"sslmode {param!r} is not one of {', '.join(SSLMODES)}")
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(value)
    except ProgrammingError:
        raise ValueError("not a valid PostgreSQL URL (libpq cannot parse it)") from None
    return value


class PostgresTarget(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["postgres"] = "postgres"
    dsn: str
    password: PasswordRef | None = None
    sensitive_columns: tuple[str, ...] = ()
    # DSNs the applications use (linted by transport.client_sslmode; never connected to).
    application_dsns: tuple[str, ...] = ()
    # A pg_hba.conf to audit offline when the live view is not readable.
    hba_file: str | None = None
    tls_probe: bool = True
    connect_timeout_seconds: float = Field(10.0, gt=0)
    statement_timeout_ms: int = Field(5000, ge=100)
    target_timeout_seconds: float = Field(300.0, gt=0)

    @field_validator("dsn")
    @classmethod
    def _dsn(cls, value: str) -> str:
        return _check_dsn(value)

    @field_validator("application_dsns")
    @classmethod
    def _app_dsns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            _check_dsn(item)
        return value

    @field_validator("sensitive_columns")
    @classmethod
    def _columns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if item.count(".") not in (1, 2) or any(not p for p in item.split(".")):
                raise ValueError(f"{item!r} is not table.column or schema.table.column")
        return value

    # -- derived -----------------------------------------------------------------------------

    @property
    def dsn_parts(self) -> dict[str, Any]:
        parts = urlsplit(self.dsn)
        return {
            "host": parts.hostname,
            "port": parts.port or 5432,
            "dbname": parts.path.lstrip("/") or None,
            "user": parts.username,
            "params": dict(parse_qsl(parts.query)),
        }

    def file_params(self, base_dir: Path) -> dict[str, str]:
        """libpq file parameters of the DSN (sslrootcert, sslcert, sslkey, sslcrl), with
        relative paths resolved against the config file's folder rather than the CWD."""
        resolved: dict[str, str] = {}
        for key in ("sslrootcert", "sslcert", "sslkey", "sslcrl"):
            value = self.dsn_parts["params"].get(key)
            if not value or value == "system":
                continue
            path = Path(value).expanduser()
            resolved[key] = str(path if path.is_absolute() else base_dir / path)
        return resolved

    @property
    def redacted_dsn(self) -> str:
        return redact_dsn(self.dsn)

    def resolve_password(self, base_dir: Path) -> str | None:
        """The password, from the environment or a file; raises ConfigError naming the source."""
        return resolve_secret(self.password, base_dir, self.name, "password")

    def context_options(self) -> dict[str, Any]:
        """What checks may know of this target's declared intent (no secrets)."""
        parts = self.dsn_parts
        return {
            "dsn": self.redacted_dsn,
            "host": parts["host"],
            "port": parts["port"],
            "dbname": parts["dbname"],
            "user": parts["user"],
            "dsn_params": {k: v for k, v in parts["params"].items() if k != "password"},
            "sensitive_columns": list(self.sensitive_columns),
            "application_dsns": [redact_dsn(d) for d in self.application_dsns],
            "hba_file": self.hba_file,
            "tls_probe": self.tls_probe,
        }


class DeclaredSecret(BaseModel):
    """A secret whose rotation age is checked (keys.secret_rotation_age)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Annotated[str, Field(min_length=1)]
    # Defaults follow the reference design: encryption key yearly, master password quarterly.
    purpose: Literal["encryption-key", "master-password", "other"] = "other"
    max_age_days: int | None = Field(None, ge=1)


class AwsRdsTarget(BaseModel):
    """An AWS RDS instance or Aurora cluster, inspected through the AWS APIs (read-only
    Describe/Get calls) with the default credential chain or a named profile."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["aws-rds"]
    region: Annotated[str, Field(min_length=1)]
    db_instance: str | None = None
    db_cluster: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None  # an AWS-compatible endpoint (tests, LocalStack)
    secrets: tuple[DeclaredSecret, ...] = ()
    backup_buckets: tuple[str, ...] = ()
    target_timeout_seconds: float = Field(120.0, gt=0)

    @model_validator(mode="after")
    def _one_database(self) -> AwsRdsTarget:
        if (self.db_instance is None) == (self.db_cluster is None):
            raise ValueError("give exactly one of db_instance or db_cluster")
        return self

    def resolve_password(self, base_dir: Path) -> str | None:
        return None  # AWS credentials come from the SDK's own chain, never from config

    def context_options(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "db_instance": self.db_instance,
            "db_cluster": self.db_cluster,
            "secrets": [s.model_dump() for s in self.secrets],
            "backup_buckets": list(self.backup_buckets),
        }


class AzurePostgresTarget(BaseModel):
    """An Azure Database for PostgreSQL flexible server, inspected through Azure Resource
    Manager (GET only) with DefaultAzureCredential or a bearer token from env/file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["azure-postgres"]
    subscription_id: Annotated[str, Field(min_length=1)]
    resource_group: Annotated[str, Field(min_length=1)]
    server: Annotated[str, Field(min_length=1)]
    access_token: PasswordRef | None = None
    management_endpoint: str | None = None  # another ARM endpoint (sovereign clouds, tests)
    ca_bundle: str | None = None  # CA file for TLS to that endpoint (and key_vault_endpoint)
    # Key Vault holding the declared secrets and keys (metadata and rotation policies only).
    key_vault: Annotated[str, Field(pattern=r"^https://[^/\s]+/?$")] | None = None
    # Where Key Vault requests go instead of key_vault (a private endpoint, tests); the
    # challenge's resource is then not matched against this host, but the token requested
    # must still be a Key Vault token.
    key_vault_endpoint: Annotated[str, Field(pattern=r"^https://")] | None = None
    # A token for https://vault.azure.net; needed with access_token (an ARM token), else the
    # default credential chain is used for the vault too.
    key_vault_access_token: PasswordRef | None = None
    secrets: tuple[DeclaredSecret, ...] = ()
    keys: tuple[str, ...] = ()  # Key Vault key names (customer-managed keys)
    target_timeout_seconds: float = Field(120.0, gt=0)

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, value: tuple[DeclaredSecret, ...]) -> tuple[DeclaredSecret, ...]:
        for secret in value:
            _check_key_vault_name(secret.name, "secret")
        return value

    @field_validator("keys")
    @classmethod
    def _key_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for key in value:
            _check_key_vault_name(key, "key")
        return value

    @model_validator(mode="after")
    def _vault_for_secrets(self) -> AzurePostgresTarget:
        if (self.secrets or self.keys) and self.key_vault is None:
            raise ValueError("secrets and keys need key_vault: https://NAME.vault.azure.net")
        return self

    def resolve_password(self, base_dir: Path) -> str | None:
        return resolve_secret(self.access_token, base_dir, self.name, "access token")

    def context_options(self) -> dict[str, Any]:
        return {
            "subscription_id": self.subscription_id,
            "resource_group": self.resource_group,
            "server": self.server,
            "key_vault": self.key_vault,
            "secrets": [s.model_dump() for s in self.secrets],
            "keys": list(self.keys),
        }


def _check_key_vault_name(name: str, what: str) -> None:
    if not re.fullmatch(r"[0-9A-Za-z-]{1,127}", name):
        raise ValueError(f"{name!r} is not a Key Vault {what} name (1-127 letters, digits, -)")


_GCP_SECRET = re.compile(r"(?:projects/[a-z0-9.:-]+/secrets/)?[A-Za-z0-9_-]{1,255}")


class GcpCloudSqlTarget(BaseModel):
    """A Google Cloud SQL for PostgreSQL instance, inspected through the Cloud SQL Admin and
    Cloud KMS APIs (read-only) with application default credentials or a bearer token."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["gcp-cloudsql"]
    project: Annotated[str, Field(min_length=1)]
    instance: Annotated[str, Field(min_length=1)]
    access_token: PasswordRef | None = None
    sqladmin_endpoint: str = "https://sqladmin.googleapis.com"
    kms_endpoint: str | None = None  # default: the public Cloud KMS endpoint
    secretmanager_endpoint: str | None = None  # default: the public Secret Manager endpoint
    # Secret Manager secrets: `S` (in `project`) or `projects/P/secrets/S`; metadata only.
    secrets: tuple[DeclaredSecret, ...] = ()
    target_timeout_seconds: float = Field(120.0, gt=0)

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, value: tuple[DeclaredSecret, ...]) -> tuple[DeclaredSecret, ...]:
        for secret in value:
            if not _GCP_SECRET.fullmatch(secret.name):
                raise ValueError(
                    f"{secret.name!r} is not a Secret Manager secret (S or projects/P/secrets/S)"
                )
        return value

    def secret_resource(self, name: str) -> str:
        """The full resource name of a declared secret."""
        return name if name.startswith("projects/") else f"projects/{self.project}/secrets/{name}"

    def resolve_password(self, base_dir: Path) -> str | None:
        return resolve_secret(self.access_token, base_dir, self.name, "access token")

    def context_options(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "instance": self.instance,
            "secrets": [s.model_dump() for s in self.secrets],
        }


class HostTarget(BaseModel):
    """A self-hosted database machine: are the data directory, WAL, temp and WAL-archive paths
    on LUKS? Inspected on this machine, or from evidence recorded there with
    `auditor host-evidence` and audited elsewhere."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["host"]
    evidence: str | None = None  # host-evidence.json; None = inspect this machine
    # Ed25519 public key (PEM): the evidence file must carry a valid signature by it.
    public_key: str | None = None
    data_directory: Annotated[str, Field(min_length=1)]
    wal_directory: str | None = None  # default: <data_directory>/pg_wal
    temp_directories: tuple[str, ...] = ()
    wal_archive: str | None = None
    crypttab: str = "/etc/crypttab"
    target_timeout_seconds: float = Field(60.0, gt=0)

    def resolve_password(self, base_dir: Path) -> str | None:
        return None

    def storage_paths(self) -> dict[str, str]:
        """role -> path of everything that holds database bytes on disk."""
        paths = {
            "data_directory": self.data_directory,
            "wal": self.wal_directory or f"{self.data_directory.rstrip('/')}/pg_wal",
        }
        for i, temp in enumerate(self.temp_directories):
            paths[f"temp[{i}]"] = temp
        if self.wal_archive:
            paths["wal_archive"] = self.wal_archive
        return paths

    def context_options(self) -> dict[str, Any]:
        return {
            "paths": self.storage_paths(),
            "evidence": self.evidence,
            "public_key": self.public_key,
        }


class VaultTarget(BaseModel):
    """HashiCorp Vault KV version 2: rotation metadata of declared secrets (metadata reads
    only; secret values are never requested)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["vault"]
    address: Annotated[str, Field(pattern=r"^https?://")]
    token: PasswordRef | None = None  # default: the VAULT_TOKEN environment variable
    mount: str = "secret"
    namespace: str | None = None
    ca_bundle: str | None = None
    secrets: tuple[DeclaredSecret, ...] = Field(min_length=1)
    target_timeout_seconds: float = Field(60.0, gt=0)

    def resolve_password(self, base_dir: Path) -> str | None:
        token = resolve_secret(self.token, base_dir, self.name, "token")
        return token if token is not None else os.environ.get("VAULT_TOKEN")

    def context_options(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "mount": self.mount,
            "secrets": [s.model_dump() for s in self.secrets],
        }


Target = (
    PostgresTarget
    | AwsRdsTarget
    | AzurePostgresTarget
    | GcpCloudSqlTarget
    | HostTarget
    | VaultTarget
)
TARGET_KINDS = ("postgres", "aws-rds", "azure-postgres", "gcp-cloudsql", "host", "vault")


class ScanConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    targets: tuple[Annotated[Target, Field(discriminator="kind")], ...] = Field(min_length=1)
    policy: Policy = Field(default_factory=Policy)

    @field_validator("targets")
    @classmethod
    def _unique_names(cls, value: tuple[Target, ...]) -> tuple[Target, ...]:
        seen: set[str] = set()
        for target in value:
            if target.name in seen:
                raise ValueError(f"target name {target.name!r} is used twice")
            seen.add(target.name)
        return value


def redact_dsn(dsn: str) -> str:
    """The DSN without any inline password (user:secret@ → user:***@; password=... → ***)."""
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return "<unparseable DSN>"
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{hostinfo}"
    query = "&".join(
        f"{k}={'***' if k.lower() in ('password', 'sslpassword') else v}"
        for k, v in parse_qsl(parts.query)
    )
    return parts._replace(netloc=netloc, query=query).geturl()


# -- YAML with line numbers ------------------------------------------------------------------


class _Located:
    """Maps a path inside the YAML document (keys and list indexes) to its line number."""

    def __init__(self) -> None:
        self.lines: dict[tuple[Any, ...], int] = {}

    def build(self, node: yaml.Node, path: tuple[Any, ...], source: str) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = yaml.safe_load(yaml.serialize(key_node))
                if key in out:
                    line = key_node.start_mark.line + 1
                    raise ConfigError(f"{source}:{line}: key {key!r} appears twice")
                self.lines[(*path, key)] = key_node.start_mark.line + 1
                out[key] = self.build(value_node, (*path, key), source)
                self.lines[(*path, key)] = key_node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), source) for i, item in enumerate(node.value)]
        return yaml.safe_load(yaml.serialize(node))

    def line_for(self, loc: tuple[Any, ...]) -> int | None:
        for cut in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:cut]))
            if line is not None:
                return line
        return None


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # pydantic inserts union/discriminator tags ("postgres", "EnvPassword") into locations.
    tags = {*TARGET_KINDS, "EnvPassword", "FilePassword"}
    return tuple(p for p in loc if not (isinstance(p, str) and p in tags))


def _explain(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        ctx = error.get("ctx") or {}
        return f"kind {ctx.get('tag')!r} is not supported (supported: {ctx.get('expected_tags')})"
    msg = str(error.get("msg", "invalid value"))
    return msg.removeprefix("Value error, ")


def parse_config(text: str, source: str = "<config>") -> ScanConfig:
    try:
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    if node is None:
        raise ConfigError(f"{source}: the file is empty")
    located = _Located()
    data = located.build(node, (), source)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: the top level must be a mapping with 'targets:'")
    for target in data.get("targets") or []:
        if isinstance(target, dict):
            target.setdefault("kind", "postgres")
    try:
        return ScanConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # A target that failed validation also makes `targets` look empty; report the cause.
        causes = [e for e in errors if not (e["type"] == "too_short" and e["loc"] == ("targets",))]
        first = (causes or errors)[0]
        loc = _clean_loc(tuple(first["loc"]))
        line = located.line_for(loc)
        where = f"{source}:{line}" if line else source
        raise ConfigError(f"{where}: {_dotted(loc)}: {_explain(first)}") from None


def load_config(path: Path) -> ScanConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: config file is not UTF-8 text (bad byte at offset {exc.start})"
        ) from None
    return parse_config(text, str(path))


def config_digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
