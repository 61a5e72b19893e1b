"""Google Cloud collector for `gcp-cloudsql` targets: the Cloud SQL instance (disk encryption,
TLS mode, backups, point-in-time recovery), for CMEK its Cloud KMS key rotation, and the
rotation metadata of declared Secret Manager secrets.
Read-only: instances.get, cryptoKeys.get, secrets.get and versions.list — never
versions.access, so no secret payload is ever requested."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from pydantic import BaseModel, ConfigDict

from auditor.collectors.base import CollectContext, Collector, TargetProblem
from auditor.collectors.secrets import SecretInfo, SecretsFacts, declared_secret, now_iso
from auditor.config import DeclaredSecret, GcpCloudSqlTarget
from auditor.facts import Facts, FactSection, Gap, GapKind
from auditor.model import TargetStatus

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
PROVIDER = "gcp-secretmanager"


class GcpKmsKey(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    rotation_period_days: float | None
    next_rotation_time: str | None
    protection_level: str | None = None


class GcpCloudSqlFacts(FactSection):
    section = "gcp_cloudsql"

    project: str
    instance: str
    database_version: str | None
    state: str | None
    ssl_mode: str | None
    require_ssl: bool | None
    kms_key_name: str | None  # CMEK; None = Google-managed encryption key
    backups_enabled: bool
    point_in_time_recovery: bool
    transaction_log_retention_days: int | None
    kms_key: GcpKmsKey | None = None
    unavailable: dict[str, str] = {}
    # Where clients connect: the instance's DNS name, else its addresses (PRIMARY first).
    dns_name: str | None = None
    ip_addresses: tuple[str, ...] = ()


class GcpProblem(Exception):
    def __init__(self, status: TargetStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class GcpCollector(Collector):
    name = "gcp"
    produces = frozenset({"gcp_cloudsql", "secrets"})
    kinds = frozenset({"gcp-cloudsql"})
    order = 30

    def collect(self, ctx: CollectContext, facts: Facts) -> TargetProblem | None:
        target = ctx.target
        assert isinstance(target, GcpCloudSqlTarget)
        try:
            from google.auth.transport.requests import AuthorizedSession
            from google.cloud import kms_v1
        except ImportError:
            return _fail(
                facts,
                GcpProblem(
                    TargetStatus.ERROR,
                    "the Google Cloud SDK is not "
                    "installed: pip install 'pg-encryption-auditor[gcp]'",
                ),
            )
        try:
            credentials = _credentials(ctx.password)
        except GcpProblem as exc:
            return _fail(facts, exc)
        session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        options = {"api_endpoint": target.kms_endpoint} if target.kms_endpoint else None
        kms = kms_v1.KeyManagementServiceClient(
            credentials=credentials, transport="rest", client_options=options
        )
        try:
            facts.add(collect_cloudsql(session, kms, target))
        except GcpProblem as exc:
            return _fail(facts, exc)
        if not target.secrets:
            facts.add(SecretsFacts(provider=PROVIDER, observed_at=now_iso()))
            return None
        try:
            from google.cloud import secretmanager_v1
        except ImportError:
            reason = (
                "the Secret Manager client is not installed: "
                "pip install 'pg-encryption-auditor[gcp]'"
            )
            facts.mark_missing(SecretsFacts.section, Gap(GapKind.ERROR, reason))
            return TargetProblem(TargetStatus.ERROR, reason)
        sm_options = (
            {"api_endpoint": target.secretmanager_endpoint}
            if target.secretmanager_endpoint
            else None
        )
        secrets = secretmanager_v1.SecretManagerServiceClient(
            credentials=credentials, transport="rest", client_options=sm_options
        )
        try:
            facts.add(collect_gcp_secrets(secrets, target))
        except GcpProblem as exc:
            # The instance's own verdicts stand; only the secrets' checks lose their facts.
            facts.mark_missing(SecretsFacts.section, Gap(GapKind.ERROR, exc.reason))
            return TargetProblem(exc.status, exc.reason)
        return None


def _fail(facts: Facts, exc: GcpProblem) -> TargetProblem:
    facts.mark_missing(GcpCloudSqlFacts.section, Gap(GapKind.ERROR, exc.reason))
    return TargetProblem(exc.status, exc.reason)


def _credentials(token: str | None) -> Any:
    if token is not None:
        from google.oauth2.credentials import Credentials

        return Credentials(token=token)  # type: ignore[no-untyped-call]
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, _ = google.auth.default(scopes=SCOPES)
    except DefaultCredentialsError:
        raise GcpProblem(
            TargetStatus.ERROR,
            "no Google credentials found (application default credentials or access_token)",
        ) from None
    return credentials


def collect_cloudsql(session: Any, kms: Any, target: GcpCloudSqlTarget) -> GcpCloudSqlFacts:
    """`session` is a requests-compatible authorised session; `kms` a Cloud KMS client."""
    import requests

    url = (
        f"{target.sqladmin_endpoint.rstrip('/')}/v1/projects/{target.project}"
        f"/instances/{target.instance}"
    )
    try:
        response = session.get(url, timeout=30)
    except requests.RequestException as exc:
        raise GcpProblem(
            TargetStatus.UNREACHABLE, f"cannot reach the Cloud SQL Admin API: {type(exc).__name__}"
        ) from None
    if response.status_code == 404:
        raise GcpProblem(
            TargetStatus.ERROR,
            f"Cloud SQL instance {target.instance!r} not found in project {target.project!r}",
        )
    if response.status_code in (401, 403):
        raise GcpProblem(
            TargetStatus.ERROR,
            "permission denied reading the instance (needs cloudsql.instances.get)",
        )
    if response.status_code != 200:
        raise GcpProblem(
            TargetStatus.ERROR, f"Cloud SQL Admin API answered HTTP {response.status_code}"
        )
    body = response.json()
    settings = body.get("settings", {})
    ip = settings.get("ipConfiguration", {})
    backup = settings.get("backupConfiguration", {})
    key_name = (body.get("diskEncryptionConfiguration") or {}).get("kmsKeyName")
    unavailable: dict[str, str] = {}
    kms_key = None
    if key_name:
        kms_key, reason = _kms_key(kms, key_name)
        if reason:
            unavailable["kms_key"] = reason
    return GcpCloudSqlFacts(
        project=target.project,
        instance=target.instance,
        database_version=body.get("databaseVersion"),
        state=body.get("state"),
        ssl_mode=ip.get("sslMode"),
        require_ssl=ip.get("requireSsl"),
        kms_key_name=key_name,
        backups_enabled=bool(backup.get("enabled")),
        point_in_time_recovery=bool(backup.get("pointInTimeRecoveryEnabled")),
        transaction_log_retention_days=backup.get("transactionLogRetentionDays"),
        kms_key=kms_key,
        unavailable=unavailable,
        dns_name=body.get("dnsName") or None,
        ip_addresses=_addresses(body),
    )


def _addresses(body: dict[str, Any]) -> tuple[str, ...]:
    found = [a for a in body.get("ipAddresses") or [] if isinstance(a, dict) and a.get("ipAddress")]
    found.sort(key=lambda a: {"PRIMARY": 0, "PRIVATE": 1}.get(str(a.get("type")), 2))
    return tuple(str(a["ipAddress"]) for a in found)


def _kms_key(kms: Any, name: str) -> tuple[GcpKmsKey | None, str | None]:
    from google.api_core import exceptions

    try:
        key = kms.get_crypto_key(name=name, timeout=30)
    except (exceptions.PermissionDenied, exceptions.Forbidden):  # gRPC / REST (HTTP 403)
        return None, "needs IAM permission cloudkms.cryptoKeys.get"
    except exceptions.GoogleAPIError as exc:
        return None, f"cloudkms cryptoKeys.get failed: {type(exc).__name__}"
    period = key.rotation_period.total_seconds() / 86400 if key.rotation_period else None
    next_time = key.next_rotation_time.isoformat() if key.next_rotation_time else None
    level = key.version_template.protection_level.name if key.version_template else None
    return GcpKmsKey(
        name=key.name,
        rotation_period_days=period,
        next_rotation_time=next_time,
        protection_level=level,
    ), None


def _utc(moment: Any) -> str | None:
    """A protobuf timestamp (proto-plus gives a datetime) as ISO 8601 UTC, whole seconds."""
    if not isinstance(moment, dt.datetime):
        return None
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def collect_gcp_secrets(client: Any, target: GcpCloudSqlTarget) -> SecretsFacts:
    """Rotation metadata of the declared Secret Manager secrets; `client` is a
    SecretManagerServiceClient. Only secrets.get and versions.list are called: payloads
    (versions.access) are never requested."""
    return SecretsFacts(
        provider=PROVIDER,
        observed_at=now_iso(),
        secrets=tuple(_secret(client, target, declared) for declared in target.secrets),
    )


def _secret(client: Any, target: GcpCloudSqlTarget, declared: DeclaredSecret) -> SecretInfo:
    import requests
    from google.api_core import exceptions

    base = declared_secret(declared)
    name = target.secret_resource(declared.name)

    def call(what: str, permission: str, fn: Any, **kwargs: Any) -> tuple[Any, SecretInfo | None]:
        try:
            return fn(**kwargs, timeout=30), None
        except exceptions.NotFound:
            return None, SecretInfo(**base, found=False, reference=name)
        except (exceptions.PermissionDenied, exceptions.Forbidden):  # gRPC / REST (HTTP 403)
            reason = f"needs IAM permission {permission} on {name}"
            return None, SecretInfo(**base, found=False, reference=name, unavailable=reason)
        except (exceptions.Unauthenticated, exceptions.Unauthorized):
            raise GcpProblem(
                TargetStatus.ERROR, "Secret Manager rejected the Google credentials"
            ) from None
        except exceptions.GoogleAPIError as exc:
            raise GcpProblem(
                TargetStatus.ERROR, f"secretmanager {what} failed: {type(exc).__name__}"
            ) from None
        except requests.RequestException as exc:
            raise GcpProblem(
                TargetStatus.UNREACHABLE,
                f"cannot reach the Secret Manager API: {type(exc).__name__}",
            ) from None

    secret, missing = call("secrets.get", "secretmanager.secrets.get", client.get_secret, name=name)
    if missing is not None:
        return missing

    def list_versions(**kwargs: Any) -> list[Any]:
        return list(client.list_secret_versions(**kwargs))  # follows nextPageToken

    versions, missing = call(
        "versions.list", "secretmanager.versions.list", list_versions, parent=name
    )
    if missing is not None:
        return missing
    from google.cloud import secretmanager_v1

    enabled_state = secretmanager_v1.SecretVersion.State.ENABLED
    by_age = sorted(
        (v for v in versions if isinstance(v.create_time, dt.datetime)),
        key=lambda v: v.create_time,
    )
    enabled = [v for v in by_age if v.state == enabled_state]
    current = enabled[-1] if enabled else None
    # The newest ENABLED version holds the value in use; if it is the first version ever
    # added, the secret was never rotated and its age counts from creation.
    rotated = current is not None and current.name != by_age[0].name
    rotation_enabled, period_days, next_rotation = _rotation(secret)
    return SecretInfo(
        **base,
        found=True,
        reference=name,
        rotation_enabled=rotation_enabled,
        rotation_after_days=period_days,
        next_rotation=next_rotation,
        created=_utc(secret.create_time),
        last_changed=_utc(by_age[-1].create_time) if by_age else None,
        last_rotated=_utc(current.create_time) if rotated and current else None,
    )


def _rotation(secret: Any) -> tuple[bool, int | None, str | None]:
    """(recurring rotation scheduled, its period in whole days rounded up, next rotation).
    Secret Manager's rotation publishes SECRET_ROTATE to the secret's Pub/Sub topics every
    rotationPeriod; a nextRotationTime alone is a one-time notification, not a schedule."""
    pb = type(secret).pb(secret)
    if not pb.HasField("rotation"):
        return False, None, None
    rotation = pb.rotation
    next_rotation = (
        _utc(rotation.next_rotation_time.ToDatetime(tzinfo=dt.UTC))
        if rotation.HasField("next_rotation_time")
        else None
    )
    if not rotation.HasField("rotation_period"):
        return False, None, next_rotation
    seconds = rotation.rotation_period.ToTimedelta().total_seconds()
    return bool(pb.topics), math.ceil(seconds / 86400), next_rotation
