"""Google Cloud collector for `gcp-cloudsql` targets: the Cloud SQL instance (disk encryption,
TLS mode, backups, point-in-time recovery) and, for CMEK, its Cloud KMS key rotation.
Read-only: instances.get and cryptoKeys.get."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from auditor.collectors.base import CollectContext, Collector, TargetProblem
from auditor.config import GcpCloudSqlTarget
from auditor.facts import Facts, FactSection, Gap, GapKind
from auditor.model import TargetStatus

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


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


class GcpProblem(Exception):
    def __init__(self, status: TargetStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class GcpCollector(Collector):
    name = "gcp"
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
    )


def _kms_key(kms: Any, name: str) -> tuple[GcpKmsKey | None, str | None]:
    from google.api_core import exceptions

    try:
        key = kms.get_crypto_key(name=name, timeout=30)
    except exceptions.PermissionDenied:
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
