"""Scan configuration: YAML validated into typed models, with errors that name file:line:key.

Passwords are references (`{env: NAME}` or `{file: PATH}`), resolved only when a target is
scanned, and never part of any model's repr, so they cannot leak into logs or outputs.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from auditor import redact
from auditor.pg_ident import IdentError, column_spec
from auditor.policy import Policy
from auditor.secret_refs import (
    REF_KEYS,
    STORE_FORMS,
    DatabasePasswordRef,
    PasswordRef,
    StoreRef,
)
from auditor.secret_refs import EnvPassword as EnvPassword  # re-exported: config's API
from auditor.secret_refs import FilePassword as FilePassword
from auditor.target_selection import Labels


class ConfigError(Exception):
    """A user-facing description of what is wrong and where: one line per problem (a config
    with several mistakes lists them all, so one run is enough to fix them)."""

    @property
    def problems(self) -> list[str]:
        return str(self).split("\n")


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
        redact.remember_secret(value)  # redacted wherever it turns up (errors, facts...)
        return value
    path = Path(ref.file).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    try:
        value = path.read_text().strip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"target {target!r}: cannot read {what} file {path}: {reason}") from None
    redact.remember_secret(value)
    return value


# Connection parameters that are credentials: never passed to checks or kept in facts.
SECRET_DSN_PARAMS = frozenset({"password", "sslpassword"})

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@cache
def _libpq_keywords() -> frozenset[str]:
    from psycopg import pq

    return frozenset(o.keyword.decode() for o in pq.Conninfo.get_defaults())


def _check_dsn(value: str) -> str:
    """A PostgreSQL URL that libpq will accept, judged here so a typo is a config error
    (exit 2) rather than a target that fails later. Messages never repeat the URL: it may
    hold a password."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    if "://" not in value and "=" in value:
        value = keyword_dsn_to_url(value)
    try:
        parts = urlsplit(value)
    except ValueError:
        # urlsplit's message may quote a piece of the netloc, which is a piece of the
        # password when the password holds a '#', '/' or '?' that was not percent-encoded.
        raise ValueError(
            "not a valid PostgreSQL URL (unreadable host or port; percent-encode a password's "
            "'#', '/', '?', '&' and '@')"
        ) from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError("must start with postgresql://")
    if parts.netloc.count("@") > 1:
        # libpq ends the user info at the first '@', Python's URL parser at the last: the two
        # would disagree on the host, and a piece of the password would pass for a host name.
        raise ValueError(
            "the user or password holds an unencoded '@': percent-encode it as %40 "
            "(and '#', '/', '?', '&' likewise)"
        )
    params = parse_qsl(parts.query, keep_blank_values=True)
    # Inline secrets are remembered so they are redacted even where quoted back in parts
    # (a driver's error message, a server log line).
    for secret in (parts.password, *(v for k, v in params if k.lower() in SECRET_DSN_PARAMS)):
        if secret:
            redact.remember_secret(secret)
            redact.remember_secret(unquote(secret))
    for key, param in params:
        if key not in _libpq_keywords():
            raise ValueError(f"unknown connection parameter {key!r} in the URL query")
        if key == "sslmode" and param not in SSLMODES:
            raise ValueError(f"sslmode {param!r} is not one of {', '.join(SSLMODES)}")
    try:
        # libpq's own reading: ?host=/?port= override the netloc, host lists are allowed.
        conn = conninfo_to_dict(value)
    except ProgrammingError:
        raise ValueError(
            "not a valid PostgreSQL URL (libpq cannot parse it; percent-encode a password's "
            "'#', '/', '?', '&' and '@')"
        ) from None
    if not conn.get("host") and not conn.get("hostaddr"):
        raise ValueError("names no host")
    for port in str(conn.get("port") or "").split(","):
        port = port.strip()
        # The port is not quoted back: with an unencoded '@' or '#' it is a piece of the
        # password.
        if port and not (port.isdigit() and 1 <= int(port) <= 65535):
            raise ValueError(
                "not a valid PostgreSQL URL (a port is not a number from 1 to 65535; "
                "percent-encode a password's '#', '/', '?', '&' and '@')"
            )
    return value


def keyword_dsn_to_url(value: str) -> str:
    """A libpq keyword string (`host=db dbname=app user=auditor sslmode=require`), read as
    libpq reads it, as the equivalent postgresql:// URL, so everything downstream (TLS probe
    endpoint, redaction, reports) sees one form. Errors never quote the string: it may hold
    a password."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = {k: str(v) for k, v in conninfo_to_dict(value).items()}
    except ProgrammingError:
        raise ValueError(
            "not a valid libpq connection string (key=value pairs, quote values with "
            "spaces in single quotes)"
        ) from None
    for secret_key in SECRET_DSN_PARAMS:
        if params.get(secret_key):
            redact.remember_secret(params[secret_key])
    for key in params:
        if key not in _libpq_keywords():
            raise ValueError(f"unknown connection parameter {key!r}")
    host, port = params.get("host", ""), params.get("port", "")
    netloc = ""
    if params.get("user"):
        netloc = quote(params.pop("user"), safe="")
        if params.get("password"):
            netloc += ":" + quote(params.pop("password"), safe="")
        netloc += "@"
    if host and "," not in host and "," not in port and not host.startswith("/"):
        params.pop("host")
        netloc += f"[{host}]" if ":" in host else host
        if port:
            netloc += ":" + params.pop("port")
    path = "/" + quote(params.pop("dbname"), safe="") if params.get("dbname") else ""
    query = urlencode(params, quote_via=quote, safe=",/")
    return f"postgresql://{netloc}{path}" + (f"?{query}" if query else "")


# The reference design's access-log columns (auditor.collectors.pg.audit_log judges them).
ACCESS_LOG_COLUMNS = (
    "table_name",
    "column_name",
    "row_id",
    "accessed_by",
    "access_type",
    "accessed_at",
    "client_ip",
)


class AccessLogMapping(BaseModel):
    """An existing audit table standing for the design's access log:
    `access_log: {table: app.audit_events, columns: {accessed_by: actor, ...}}`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    table: Annotated[str, Field(min_length=1, max_length=200)]  # name or schema.name
    columns: dict[str, Annotated[str, Field(min_length=1, max_length=63)]] = {}

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        if value.count(".") > 1 or any(not p for p in value.split(".")):
            raise ValueError(f"{value!r} is not table or schema.table")
        return value

    @field_validator("columns")
    @classmethod
    def _columns(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(ACCESS_LOG_COLUMNS))
        if unknown:
            raise ValueError(
                f"unknown access-log column {', '.join(unknown)} "
                f"(the design's columns are {', '.join(ACCESS_LOG_COLUMNS)})"
            )
        return value


DatabaseName = Annotated[str, Field(min_length=1, max_length=63)]


class PostgresTarget(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["postgres"] = "postgres"
    labels: Labels = {}  # env, bu, owner, data_class, zone...: for --label
    dsn: str
    # env/file, a secret store or a platform token (auditor.secret_refs), fetched at scan time
    password: DatabasePasswordRef | None = None
    sensitive_columns: tuple[str, ...] = ()
    # DSNs the applications use (linted by transport.client_sslmode; never connected to).
    application_dsns: tuple[str, ...] = ()
    # A pg_hba.conf to audit offline when the live view is not readable.
    hba_file: str | None = None
    tls_probe: bool = True
    # An existing audit table and its columns, when it is not the design's access log.
    access_log: AccessLogMapping | None = None
    connect_timeout_seconds: float = Field(10.0, gt=0)
    statement_timeout_ms: int = Field(5000, ge=100)
    target_timeout_seconds: float = Field(300.0, gt=0)
    # Every database of this server (`all`) or the listed ones, server-wide checks once
    # (auditor/server_scan.py); absent: only the DSN's database, as before.
    databases: Literal["all"] | tuple[DatabaseName, ...] | None = None
    exclude_databases: tuple[DatabaseName, ...] = ()
    database_workers: int = Field(4, ge=1, le=16)  # databases of this server read at once

    @field_validator("dsn")
    @classmethod
    def _dsn(cls, value: str) -> str:
        return _check_dsn(value)

    @field_validator("databases", mode="before")
    @classmethod
    def _databases(cls, value: Any) -> Any:
        if value is not None and value != "all" and not isinstance(value, list | tuple):
            raise ValueError(f"must be 'all' or a list of database names, not {value!r}")
        return value

    @model_validator(mode="after")
    def _database_names(self) -> PostgresTarget:
        # Results name a database `<target>/<database>`: the target part must not hold a `/`.
        if self.scans_databases and "/" in self.name:
            raise ValueError(f"target {self.name!r} scans databases: its name may not hold '/'")
        return self

    @field_validator("application_dsns")
    @classmethod
    def _app_dsns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_dsn(item) for item in value)  # key=value strings become URLs

    @field_validator("sensitive_columns")
    @classmethod
    def _columns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:  # parts may be double-quoted: public."archive.customers".email
            try:
                column_spec(item)
            except IdentError as exc:
                raise ValueError(str(exc)) from None
        return value

    # -- derived -----------------------------------------------------------------------------

    @property
    def scans_databases(self) -> bool:
        """Whether the target stands for several databases of one server."""
        return self.databases is not None or bool(self.exclude_databases)

    @property
    def dsn_parts(self) -> dict[str, Any]:
        from psycopg.conninfo import conninfo_to_dict

        parts = urlsplit(self.dsn)
        # Host and port as libpq reads them (?host=/?port= win over the netloc; a host list
        # stays whole, its first port is shown). Where the TLS probe goes: auditor.tls.endpoints.
        conn = conninfo_to_dict(self.dsn)
        first_port = str(conn.get("port") or "").split(",")[0].strip()
        return {
            "host": conn.get("host") or conn.get("hostaddr"),
            "port": int(first_port) if first_port.isdigit() else 5432,
            # libpq percent-decodes URI parts; so must every name shown or generated from them.
            "dbname": conn.get("dbname") or unquote(parts.path.lstrip("/")) or None,
            "user": conn.get("user") or (unquote(parts.username) if parts.username else None),
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
        """The password, from the environment, a file, a secret store or a platform's token
        service; raises ConfigError naming the source, never the value."""
        if isinstance(self.password, StoreRef):
            from auditor.secret_stores import fetch_password

            return fetch_password(self.password, self, base_dir)
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
            "dsn_params": {
                k: v for k, v in parts["params"].items() if k.lower() not in SECRET_DSN_PARAMS
            },
            "sensitive_columns": list(self.sensitive_columns),
            "application_dsns": [redact_dsn(d) for d in self.application_dsns],
            "hba_file": self.hba_file,
            "tls_probe": self.tls_probe,
        }


class ConnectDetails(BaseModel):
    """How to log into a cloud database through the endpoint its cloud API reports, so its
    TLS and in-database checks run under the same target name as its storage and key checks
    (one asset). The host and port are never written here: they come from the API."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    user: Annotated[str, Field(min_length=1)]
    password: PasswordRef | None = None
    dbname: Annotated[str, Field(min_length=1)] = "postgres"
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = (
        "verify-full"
    )
    sslrootcert: str | None = None  # relative to the config file's folder
    # Where the TCP connection goes when the reported name does not resolve from the scanner
    # (private DNS, a tunnel); the certificate is still checked against the reported name.
    hostaddr: str | None = None
    port: int | None = Field(None, ge=1, le=65535)  # instead of the API's (a local proxy)
    sensitive_columns: tuple[str, ...] = ()
    tls_probe: bool = True
    connect_timeout_seconds: float = Field(10.0, gt=0)

    @field_validator("sensitive_columns")
    @classmethod
    def _columns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return PostgresTarget._columns(value)

    def dsn(self, host: str, port: int) -> str:
        """The postgresql:// URL of the database at the endpoint the cloud API reported."""
        params: dict[str, str] = {"sslmode": self.sslmode}
        if self.sslrootcert:
            params["sslrootcert"] = self.sslrootcert
        if self.hostaddr:
            params["hostaddr"] = self.hostaddr
        port = self.port or port
        netloc = f"{quote(self.user, safe='')}@{f'[{host}]' if ':' in host else host}:{port}"
        query = urlencode(params, quote_via=quote, safe="/")
        return f"postgresql://{netloc}/{quote(self.dbname, safe='')}?{query}"


class DeclaredSecret(BaseModel):
    """A secret whose rotation age is checked (keys.secret_rotation_age)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Annotated[str, Field(min_length=1)]
    # Defaults follow the reference design: encryption key yearly, master password quarterly.
    purpose: Literal["encryption-key", "master-password", "other"] = "other"
    max_age_days: int | None = Field(None, ge=1)


_ROLE_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$"


class AwsRdsTarget(BaseModel):
    """An AWS RDS instance or Aurora cluster, inspected through the AWS APIs (read-only
    Describe/Get calls) with the default credential chain or a named profile."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["aws-rds"]
    labels: Labels = {}  # env, bu, owner, data_class, zone...: for --label
    region: Annotated[str, Field(min_length=1)]
    db_instance: str | None = None
    db_cluster: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None  # an AWS-compatible endpoint (tests, LocalStack)
    # The database lives in another account: assume this role there first.
    role_arn: Annotated[str, Field(pattern=_ROLE_ARN)] | None = None
    external_id: str | None = None
    secrets: tuple[DeclaredSecret, ...] = ()
    backup_buckets: tuple[str, ...] = ()
    connect: ConnectDetails | None = None  # also scan it in-database, as one asset
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
    labels: Labels = {}  # env, bu, owner, data_class, zone...: for --label
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
    connect: ConnectDetails | None = None  # also scan it in-database, as one asset
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
    labels: Labels = {}  # env, bu, owner, data_class, zone...: for --label
    project: Annotated[str, Field(min_length=1)]
    instance: Annotated[str, Field(min_length=1)]
    access_token: PasswordRef | None = None
    sqladmin_endpoint: str = "https://sqladmin.googleapis.com"
    kms_endpoint: str | None = None  # default: the public Cloud KMS endpoint
    secretmanager_endpoint: str | None = None  # default: the public Secret Manager endpoint
    # Secret Manager secrets: `S` (in `project`) or `projects/P/secrets/S`; metadata only.
    secrets: tuple[DeclaredSecret, ...] = ()
    connect: ConnectDetails | None = None  # also scan it in-database, as one asset
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


class SshAccess(BaseModel):
    """How to reach a database host over SSH for read-only inspection: a key (no password,
    no agent), and a known_hosts file its host key must already be in (an unknown or changed
    key is refused, never added)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: Annotated[str, Field(min_length=1)]
    host: Annotated[str, Field(min_length=1)]
    port: int = Field(22, ge=1, le=65535)
    key: Annotated[str, Field(min_length=1)]  # private key file, relative to the config
    passphrase: PasswordRef | None = None  # for an encrypted key
    known_hosts: str = "~/.ssh/known_hosts"
    # Run the inspection commands that need root (cryptsetup status/luksDump; reading
    # crypttab or key-file modes the user may not) through `sudo -n`, when not root.
    sudo: bool = True
    connect_timeout_seconds: float = Field(10.0, gt=0)

    def label(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ssh://{self.user}@{host}:{self.port}"


class HostTarget(BaseModel):
    """A self-hosted database machine: are the data directory, WAL, temp and WAL-archive paths
    on LUKS? Inspected on this machine, over SSH (`ssh:`), or from evidence recorded there
    with `auditor host-evidence` and audited elsewhere."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["host"]
    labels: Labels = {}  # env, bu, owner, data_class, zone...: for --label
    evidence: str | None = None  # host-evidence.json; None = inspect this machine (or ssh)
    ssh: SshAccess | None = None  # inspect the database host over SSH
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

    @model_validator(mode="after")
    def _one_source(self) -> HostTarget:
        if self.evidence is not None and self.ssh is not None:
            raise ValueError("give either evidence: (a recorded file) or ssh: (a live host)")
        return self

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
            "ssh": self.ssh.label() if self.ssh else None,
        }


class VaultTarget(BaseModel):
    """HashiCorp Vault KV version 2: rotation metadata of declared secrets (metadata reads
    only; secret values are never requested)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["vault"]
    labels: Labels = {}  # env, bu, owner, data_class, zone...: for --label
    address: Annotated[str, Field(pattern=r"^https?://")]
    token: PasswordRef | None = None  # default: the VAULT_TOKEN environment variable
    mount: str = "secret"
    namespace: str | None = None
    ca_bundle: str | None = None
    secrets: tuple[DeclaredSecret, ...] = Field(min_length=1)
    target_timeout_seconds: float = Field(60.0, gt=0)

    def resolve_password(self, base_dir: Path) -> str | None:
        token = resolve_secret(self.token, base_dir, self.name, "token")
        if token is None:
            token = os.environ.get("VAULT_TOKEN")
            redact.remember_secret(token)
        return token

    def context_options(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "mount": self.mount,
            "secrets": [s.model_dump() for s in self.secrets],
        }


class AwsRole(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    arn: Annotated[str, Field(pattern=_ROLE_ARN)]
    external_id: str | None = None


class AwsDiscoveryTarget(BaseModel):
    """Every RDS PostgreSQL instance and Aurora PostgreSQL cluster in some AWS accounts and
    regions, each scanned as its own aws-rds target (auditor/cloud_discovery)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["aws"]
    labels: Labels = {}  # env, bu, owner, data_class, zone...: for --label; discovered inherit
    regions: tuple[Annotated[str, Field(pattern=r"^[a-z0-9-]+$")], ...] = ()  # () = all enabled
    # One role per account (none: the credential's own account).
    role_arns: tuple[AwsRole, ...] = ()  # an ARN, or {arn: ..., external_id: ...}
    external_id: str | None = None  # for every role that does not name its own
    # Also every active account of the AWS Organization, through this role name in each.
    organization_role: Annotated[str, Field(pattern=r"^[\w+=,.@/-]{1,128}$")] | None = None
    tags: dict[str, str] = {}  # every pair must match; value "*": the key is present
    profile: str | None = None
    endpoint_url: str | None = None  # an AWS-compatible endpoint (tests, LocalStack)
    connect: ConnectDetails | None = None
    target_timeout_seconds: float = Field(120.0, gt=0)  # per discovered database

    @field_validator("role_arns", mode="before")
    @classmethod
    def _plain_arns(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [{"arn": item} if isinstance(item, str) else item for item in value]
        return value

    def roles(self) -> list[AwsRole]:
        return [
            r if r.external_id else r.model_copy(update={"external_id": self.external_id})
            for r in self.role_arns
        ]

    def resolve_password(self, base_dir: Path) -> str | None:
        return None

    def context_options(self) -> dict[str, Any]:
        return {"regions": list(self.regions), "tags": dict(self.tags)}


class AzureDiscoveryTarget(BaseModel):
    """Every Azure Database for PostgreSQL flexible server in some subscriptions (default:
    every subscription the credential sees), each scanned as an azure-postgres target."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["azure"]
    labels: Labels = {}  # env, bu, owner, data_class, zone...: for --label; discovered inherit
    subscriptions: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    resource_groups: tuple[Annotated[str, Field(min_length=1)], ...] = ()  # () = all
    tags: dict[str, str] = {}
    access_token: PasswordRef | None = None
    management_endpoint: str | None = None
    ca_bundle: str | None = None
    connect: ConnectDetails | None = None
    target_timeout_seconds: float = Field(120.0, gt=0)

    def resolve_password(self, base_dir: Path) -> str | None:
        return resolve_secret(self.access_token, base_dir, self.name, "access token")

    def context_options(self) -> dict[str, Any]:
        return {"subscriptions": list(self.subscriptions), "tags": dict(self.tags)}


class GcpDiscoveryTarget(BaseModel):
    """Every Cloud SQL for PostgreSQL instance in some projects, each scanned as a
    gcp-cloudsql target."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["gcp"]
    labels: Labels = {}  # env, bu, owner, data_class, zone...: for --label; discovered inherit
    projects: tuple[Annotated[str, Field(min_length=1)], ...] = Field(min_length=1)
    # Cloud SQL user labels an instance must carry (`labels:` are this target's own labels).
    instance_labels: dict[str, str] = {}
    access_token: PasswordRef | None = None
    sqladmin_endpoint: str = "https://sqladmin.googleapis.com"
    kms_endpoint: str | None = None
    connect: ConnectDetails | None = None
    target_timeout_seconds: float = Field(120.0, gt=0)

    def resolve_password(self, base_dir: Path) -> str | None:
        return resolve_secret(self.access_token, base_dir, self.name, "access token")

    def context_options(self) -> dict[str, Any]:
        return {"projects": list(self.projects), "instance_labels": dict(self.instance_labels)}


DiscoveryTarget = AwsDiscoveryTarget | AzureDiscoveryTarget | GcpDiscoveryTarget
Target = (
    PostgresTarget
    | AwsRdsTarget
    | AzurePostgresTarget
    | GcpCloudSqlTarget
    | HostTarget
    | VaultTarget
    | AwsDiscoveryTarget
    | AzureDiscoveryTarget
    | GcpDiscoveryTarget
)
TARGET_KINDS = (
    "postgres",
    "aws-rds",
    "azure-postgres",
    "gcp-cloudsql",
    "host",
    "vault",
    "aws",
    "azure",
    "gcp",
)


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
        servers = [t.name for t in value if isinstance(t, PostgresTarget) and t.scans_databases]
        for target in value:  # `server/db` names the databases of a server target
            clash = next((s for s in servers if target.name.startswith(f"{s}/")), None)
            if clash is not None:
                raise ValueError(
                    f"target name {target.name!r} clashes with the databases of target {clash!r}"
                )
        return value


def redact_dsn(dsn: str) -> str:
    """The DSN without any inline password (auditor.redact's policy: the password part becomes
    a `<redacted password, N chars>` marker)."""
    return redact.redact_dsn(dsn)


# -- YAML with line numbers ------------------------------------------------------------------

# Bounds on what a config or waivers file may make the loader do. Real files are a few KB; an
# alias bomb ("billion laughs") is small text that expands exponentially, deep nesting
# exhausts the recursive composer, and a huge file keeps the pure-Python parser busy.
MAX_YAML_BYTES = 2 * 1024 * 1024
MAX_YAML_DEPTH = 64
MAX_YAML_VALUES = 100_000  # values built, counting every alias expansion
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _yaml_problem(exc: yaml.YAMLError, source: str, last_line: int | None = None) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    line = None if mark is None else mark.line + 1
    if line is not None and last_line is not None:
        line = min(line, last_line)  # libyaml places an unexpected end past the last line
    where = f"{source}:{line}" if line is not None else source
    problem = getattr(exc, "problem", None) or "not valid YAML"
    if isinstance(exc, yaml.reader.ReaderError):
        problem = f"character {exc.character!r} is not allowed"
    return ConfigError(f"{where}: invalid YAML: {_one_line(problem)}")


# libyaml when PyYAML was built with it: the same grammar, about 20 times faster, which keeps
# a large file from holding the loader for minutes. Its composer recurses in C, so it only
# ever sees a document whose depth the event pass below has already bounded.
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def compose_yaml(text: str, source: str) -> yaml.Node | None:
    """The YAML node graph of `text`, refusing huge, too deeply nested or too large documents
    before the composer runs."""
    if len(text) > MAX_YAML_BYTES:
        raise ConfigError(f"{source}: file is larger than {MAX_YAML_BYTES // 1024} KB")
    try:
        depth = values = 0
        for event in yaml.parse(text, Loader=_FAST_LOADER):  # an iterative state machine
            if isinstance(event, yaml.CollectionStartEvent | yaml.ScalarEvent):
                values += 1
                if values > MAX_YAML_VALUES:
                    line = event.start_mark.line + 1 if event.start_mark else 0
                    raise ConfigError(f"{source}:{line}: more than {MAX_YAML_VALUES} values")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    line = event.start_mark.line + 1 if event.start_mark else 0
                    raise ConfigError(
                        f"{source}:{line}: nested more than {MAX_YAML_DEPTH} levels deep"
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        return yaml.compose(text, Loader=_FAST_LOADER)
    except yaml.YAMLError as exc:
        raise _yaml_problem(exc, source, last_line=text.count("\n") + 1) from None


class _Located:
    """Builds plain data from a YAML node graph and maps each path inside it (keys and list
    indexes) to its line number.

    Merge keys (`<<: *base`, `<<: [*a, *b]`) work as in YAML 1.1: keys written in the mapping
    win over merged ones, earlier merged mappings over later. Keys written twice are an error
    naming the line. Alias expansion is bounded by MAX_YAML_VALUES and MAX_YAML_DEPTH, so an
    alias bomb or a self-referencing alias fails fast instead of hanging."""

    def __init__(self) -> None:
        self.lines: dict[tuple[Any, ...], int] = {}
        self._built = 0
        self._constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: tuple[Any, ...], source: str, depth: int = 0) -> Any:
        line = node.start_mark.line + 1
        self._built += 1
        if self._built > MAX_YAML_VALUES:
            raise ConfigError(
                f"{source}:{line}: more than {MAX_YAML_VALUES} values once aliases are "
                "expanded (an alias bomb?)"
            )
        if depth > MAX_YAML_DEPTH:
            raise ConfigError(
                f"{source}:{line}: nested more than {MAX_YAML_DEPTH} levels deep (through aliases?)"
            )
        self.lines.setdefault(path, line)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, source, depth)
        if isinstance(node, yaml.SequenceNode):
            return [
                self.build(item, (*path, i), source, depth + 1) for i, item in enumerate(node.value)
            ]
        return self._scalar(node, source)

    def _scalar(self, node: yaml.Node, source: str) -> Any:
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise _yaml_problem(exc, source) from None
        except Exception:  # e.g. `!!timestamp nonsense`, `!!int 0x`: PyYAML's own bugs
            line = node.start_mark.line + 1
            raise ConfigError(
                f"{source}:{line}: invalid YAML: cannot read value with tag {node.tag}"
            ) from None

    def _key(self, node: yaml.Node, source: str) -> Any:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.ScalarNode):
            raise ConfigError(f"{source}:{line}: a key must be a plain value, not a collection")
        key = self._scalar(node, source)
        try:
            hash(key)
        except TypeError:
            raise ConfigError(f"{source}:{line}: a key must be a plain value") from None
        return key

    def _mapping(
        self, node: yaml.MappingNode, path: tuple[Any, ...], source: str, depth: int
    ) -> dict[Any, Any]:
        if depth > MAX_YAML_DEPTH:  # a mapping that merges itself, directly or not
            line = node.start_mark.line + 1
            raise ConfigError(f"{source}:{line}: '<<' merges nest more than {MAX_YAML_DEPTH} deep")
        merged: dict[Any, Any] = {}
        written: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                continue
            sources = (
                value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            )
            for src in sources:
                if not isinstance(src, yaml.MappingNode):
                    line = src.start_mark.line + 1
                    raise ConfigError(f"{source}:{line}: '<<' can only merge mappings")
                for key, value in self._mapping(src, path, source, depth + 1).items():
                    merged.setdefault(key, value)
                    self._built += 1
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self._key(key_node, source)
            line = key_node.start_mark.line + 1
            if key in written:
                raise ConfigError(f"{source}:{line}: key {_one_line(repr(key))} appears twice")
            self.lines[(*path, key)] = line
            written[key] = self.build(value_node, (*path, key), source, depth + 1)
            self.lines[(*path, key)] = line
        return {**merged, **written}

    def line_for(self, loc: tuple[Any, ...]) -> int | None:
        for cut in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:cut]))
            if line is not None:
                return line
        return None


def yaml_document(text: str, source: str) -> tuple[Any, _Located]:
    """Plain data from YAML text, with line numbers; ConfigError (one line) on any problem."""
    node = compose_yaml(text, source)
    if node is None:
        raise ConfigError(f"{source}: the file is empty")
    located = _Located()
    return located.build(node, (), source), located


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
    # A kind tag sits right after the target's index (a reference's key may share a kind's
    # name: `password: {vault: PATH}`), a reference's class name anywhere after it.
    return tuple(
        p
        for i, p in enumerate(loc)
        if not (
            isinstance(p, str)
            and (p in REF_KEYS or (i == 2 and loc[0] == "targets" and p in TARGET_KINDS))
        )
    )


# Fields that hold a reference to a secret, never the secret itself.
SECRET_REF_FIELDS = ("password", "token", "access_token", "key_vault_access_token")
_REF_CLASSES = ("EnvPassword", "FilePassword")


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for a near miss among `choices`, else empty."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


@cache
def known_keys() -> frozenset[str]:
    """Every key a config may use, for 'did you mean' on an unknown one."""
    from auditor import secret_refs

    models: list[type[BaseModel]] = [
        ScanConfig,
        Policy,
        DeclaredSecret,
        AccessLogMapping,
        *(getattr(secret_refs, name) for name in REF_KEYS),
        PostgresTarget,
        AwsRdsTarget,
        AzurePostgresTarget,
        GcpCloudSqlTarget,
        HostTarget,
        VaultTarget,
        AwsRole,
        AwsDiscoveryTarget,
        AzureDiscoveryTarget,
        GcpDiscoveryTarget,
    ]
    return frozenset(key for model in models for key in model.model_fields)


def _plain_words(msg: str) -> str:
    """pydantic's phrasing made plain: 'Input should be X' -> 'must be X'."""
    msg = msg.removeprefix("Value error, ")
    for prefix in ("Input should", "String should", "Tuple should", "List should", "Value should"):
        if msg.startswith(prefix):
            return "must" + msg[len(prefix) :]
    return msg


def _explain(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    loc = tuple(error.get("loc") or ())
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else ""
        if "connect" in loc[:-1]:  # connect: takes connection parameters as its own keys
            return "unknown key" + did_you_mean(key, ConnectDetails.model_fields)
        if key in _libpq_keywords() and key not in known_keys():
            return f"unknown key ({key} is a connection parameter: put it in the dsn, ?{key}=...)"
        return "unknown key" + did_you_mean(key, known_keys())
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        ctx = error.get("ctx") or {}
        return f"kind {ctx.get('tag')!r} is not supported (supported: {ctx.get('expected_tags')})"
    if loc and loc[-1] in _REF_CLASSES and kind in ("model_type", "dict_type"):
        field = next((p for p in reversed(loc) if p in SECRET_REF_FIELDS), "password")
        return (
            "a secret is never written in the config: reference where it is kept, "
            f"{field}: {{env: VARIABLE}} or {field}: {{file: PATH}}"
        )
    if kind == "password_reference":
        return f"must be a password reference: {STORE_FORMS}"
    if kind == "reference_shape":
        field = loc[-1] if loc else "password"
        return f"must be {field}: {{env: VARIABLE}} or {field}: {{file: PATH}}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a mapping (key: value lines)"
    if kind in ("tuple_type", "list_type"):
        return "must be a list"
    if kind == "string_pattern_mismatch":
        pattern = (error.get("ctx") or {}).get("pattern", "")
        return f"does not have the expected form ({pattern})"
    if kind == "int_parsing":
        return "must be a whole number"
    if kind == "float_parsing":
        return "must be a number"
    if kind == "bool_parsing":
        return "must be true or false"
    return _plain_words(str(error.get("msg", "invalid value")))


_REF_KEY = REF_KEYS


def _one_reference_branch(errors: list[Any]) -> list[Any]:
    """pydantic tries `{env: ...}` and `{file: ...}` and reports both failures; keep the
    alternative the user wrote (its key is present), or one plain error when neither is."""
    branches: dict[tuple[Any, ...], dict[str, list[Any]]] = {}
    kept: list[Any] = []
    for error in errors:
        loc = tuple(error["loc"])
        at = next((i for i, part in enumerate(loc) if part in _REF_KEY), None)
        if at is None or error["type"] in ("model_type", "dict_type"):
            kept.append(error)
            continue
        branches.setdefault(loc[:at], {}).setdefault(loc[at], []).append(error)
    for prefix, by_class in branches.items():
        written = [
            cls
            for cls in _REF_KEY
            if cls in by_class
            and not any(
                e["type"] == "missing" and e["loc"][-1] == _REF_KEY[cls] for e in by_class[cls]
            )
        ]
        if written:
            kept.extend(by_class[written[0]])
        else:
            kept.append({"type": "reference_shape", "loc": prefix})
    return kept


def explain_errors(exc: ValidationError, located: _Located, source: str) -> list[str]:
    """Every validation error as 'file:line: key: what is wrong', in plain words, once each
    (a password union reports the same problem per alternative; the empty `targets` that a
    broken target causes is not a problem of its own)."""
    errors = _one_reference_branch(list(exc.errors()))
    causes = [e for e in errors if not (e["type"] == "too_short" and e["loc"] == ("targets",))]
    lines: list[str] = []
    for error in causes or errors:
        loc = _clean_loc(tuple(error["loc"]))
        line = located.line_for(loc)
        where = f"{source}:{line}" if line else source
        text = _one_line(f"{where}: {_dotted(loc)}: {_explain(error)}")
        if text not in lines:
            lines.append(text)
    return lines


def _unknown_check_ids(data: Mapping[Any, Any], located: _Located, source: str) -> list[str]:
    """`policy.severity` keys that name no check in the catalog."""
    policy = data.get("policy")
    severity = policy.get("severity") if isinstance(policy, Mapping) else None
    if not isinstance(severity, Mapping):
        return []
    from auditor.catalog import all_checks  # the catalog imports checks, which import config

    catalog = all_checks()
    problems = []
    for check_id in severity:
        if check_id in catalog:
            continue
        loc = ("policy", "severity", check_id)
        where = f"{source}:{located.line_for(loc)}"
        problems.append(
            _one_line(
                f"{where}: {_dotted(loc)}: unknown check id{did_you_mean(check_id, catalog)} "
                "(see `auditor checks list`)"
            )
        )
    return problems


def _line_of(problem: str, source: str) -> int:
    number = problem.removeprefix(f"{source}:").split(":", 1)[0]
    return int(number) if number.isdigit() else 0


def parse_config(text: str, source: str = "<config>") -> ScanConfig:
    """The validated config; ConfigError listing every problem found, one per line."""
    data, located = yaml_document(text, source)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: the top level must be a mapping with 'targets:'")
    # Top-level keys starting with `x-` are the user's own (as in Compose files): a place for
    # anchors that targets merge with `<<: *name`. They are not part of the config.
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
    targets = data.get("targets")
    if isinstance(targets, list):
        for target in targets:
            if isinstance(target, dict):
                target.setdefault("kind", "postgres")
    problems: list[str] = []
    config: ScanConfig | None = None
    try:
        config = ScanConfig.model_validate(data)
    except ValidationError as exc:
        problems.extend(explain_errors(exc, located, source))
    problems.extend(_unknown_check_ids(data, located, source))
    if problems or config is None:
        problems.sort(key=lambda p: _line_of(p, source))  # in the order a person reads
        raise ConfigError("\n".join(problems))
    return config


def read_text_file(path: Path, what: str, error: type[Exception]) -> str:
    """A UTF-8 text file of bounded size, or `error` with one line naming the file."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_YAML_BYTES + 1)
    except FileNotFoundError:
        raise error(f"{path}: {what} file not found") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, not a {what} file") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {what} file: {exc.strerror}") from None
    if len(raw) > MAX_YAML_BYTES:
        raise error(f"{path}: {what} file is larger than {MAX_YAML_BYTES // 1024} KB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}: {what} file is not UTF-8 text (bad byte at offset {exc.start})"
        ) from None


def load_config(path: Path) -> ScanConfig:
    return parse_config(read_text_file(path, "config", ConfigError), str(path))


def redacted_config(config: ScanConfig) -> dict[str, Any]:
    """The config as parsed (defaults filled in), with every inline secret replaced by its
    redaction marker (auditor.redact). Password references (`{env: NAME}`, `{file: PATH}`)
    name where a secret lives, not the secret, and stay."""
    data: dict[str, Any] = redact.redact_tree(config.model_dump(mode="json"))
    return data


def config_digest(config: ScanConfig | str) -> str:
    """`sha256:` + SHA-256 of the redacted config (see redacted_config) as canonical JSON
    (sorted keys, no whitespace). It identifies which targets, options and policy a scan ran
    with; it covers no secret, so it cannot be used to confirm a guessed password. Text is
    parsed first (a text that does not parse is an error, as for a scan)."""
    parsed = parse_config(config, "<config>") if isinstance(config, str) else config
    canonical = json.dumps(redacted_config(parsed), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
