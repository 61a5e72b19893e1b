"""AWS collector for `aws-rds` targets: storage encryption, snapshots, backups, the
`rds.force_ssl` parameter, the KMS key, declared Secrets Manager secrets and backup buckets.

Only Describe/Get calls are made; secret values are never read (DescribeSecret, not
GetSecretValue). A denied call becomes a gap naming the IAM permission that would allow it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict

from auditor.collectors.base import CollectContext, Collector, TargetProblem
from auditor.collectors.secrets import SecretInfo, SecretsFacts, declared_secret, now_iso
from auditor.config import AwsRdsTarget
from auditor.extras import not_installed
from auditor.facts import Facts, FactSection, Gap, GapKind
from auditor.model import TargetStatus

_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "AccessDeniedFault",
}


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ParameterGroupStatus(_Row):
    name: str
    apply_status: str | None = None  # in-sync | pending-reboot | applying


class RdsDatabase(_Row):
    identifier: str
    arn: str | None
    is_cluster: bool
    engine: str | None
    engine_version: str | None
    storage_encrypted: bool
    kms_key_id: str | None
    backup_retention_days: int | None
    parameter_groups: tuple[ParameterGroupStatus, ...] = ()
    force_ssl: str | None = None  # None: not set explicitly in the parameter group
    # Where clients connect (Endpoint.Address/Port; a cluster's writer endpoint).
    endpoint: str | None = None
    port: int | None = None


class RdsSnapshot(_Row):
    identifier: str
    encrypted: bool
    kms_key_id: str | None
    snapshot_type: str | None


class KmsKey(_Row):
    key_id: str
    arn: str | None
    manager: str | None  # AWS | CUSTOMER
    state: str | None
    rotation_enabled: bool | None
    rotation_period_days: int | None = None


class BucketInfo(_Row):
    name: str
    sse_algorithm: str | None  # AES256 | aws:kms | aws:kms:dsse | None (no default rule)
    exists: bool = True
    kms_key_id: str | None = None
    public_access_block: dict[str, bool] | None = None


class AwsRdsFacts(FactSection):
    section = "aws_rds"

    observed_at: str  # ages (secret rotation) are judged against this moment
    region: str
    database: RdsDatabase
    snapshots: tuple[RdsSnapshot, ...] | None = None
    kms_key: KmsKey | None = None
    buckets: tuple[BucketInfo, ...] = ()
    # item -> why it is missing (the IAM permission that would allow reading it)
    unavailable: dict[str, str] = {}


def _iso(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="seconds")
    return None


class AwsCollector(Collector):
    name = "aws"
    produces = frozenset({"aws_rds", "secrets"})
    kinds = frozenset({"aws-rds"})
    order = 30

    def collect(self, ctx: CollectContext, facts: Facts) -> TargetProblem | None:
        target = ctx.target
        assert isinstance(target, AwsRdsTarget)
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            reason = not_installed("the AWS SDK", "aws")
            facts.mark_missing(AwsRdsFacts.section, Gap(GapKind.ERROR, reason))
            return TargetProblem(TargetStatus.ERROR, reason)
        config = Config(
            retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10, read_timeout=30
        )
        session = boto3.session.Session(profile_name=target.profile, region_name=target.region)
        if target.role_arn:
            try:
                session = assumed_session(
                    session,
                    target.role_arn,
                    target.external_id,
                    target.region,
                    target.endpoint_url,
                    config,
                )
            except Exception as exc:
                problem = _explain(exc, f"assuming role {target.role_arn}")
                facts.mark_missing(AwsRdsFacts.section, Gap(GapKind.ERROR, problem.reason))
                return TargetProblem(problem.status, problem.reason)

        def client(service: str) -> Any:
            return session.client(service, endpoint_url=target.endpoint_url, config=config)

        try:
            facts.add(collect_rds(client, target))
            facts.add(collect_aws_secrets(client, target))
        except AwsProblem as exc:
            facts.mark_missing(AwsRdsFacts.section, Gap(GapKind.ERROR, exc.reason))
            return TargetProblem(exc.status, exc.reason)
        return None


def assumed_session(
    base: Any,
    role_arn: str,
    external_id: str | None,
    region: str | None,
    endpoint_url: str | None,
    config: Any,
) -> Any:
    """A boto3 session with the temporary credentials of `role_arn` (sts:AssumeRole from
    `base`'s credentials); the credentials live only in this process."""
    import boto3

    kwargs: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": "pg-encryption-auditor"}
    if external_id:
        kwargs["ExternalId"] = external_id
    sts = base.client("sts", endpoint_url=endpoint_url, config=config, region_name=region)
    creds = sts.assume_role(**kwargs)["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )


class AwsProblem(Exception):
    def __init__(self, status: TargetStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _explain(exc: Exception, action: str) -> AwsProblem:
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    if isinstance(exc, NoCredentialsError):
        return AwsProblem(
            TargetStatus.ERROR,
            "no AWS credentials found (environment, shared profile or instance role)",
        )
    if isinstance(exc, NoRegionError):
        return AwsProblem(TargetStatus.ERROR, "no AWS region configured")
    if isinstance(exc, EndpointConnectionError):
        return AwsProblem(TargetStatus.UNREACHABLE, f"cannot reach the AWS endpoint: {exc}")
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return AwsProblem(
            TargetStatus.ERROR, f"{action}: {err.get('Code', 'error')}: {err.get('Message', '')}"
        )
    return AwsProblem(TargetStatus.ERROR, f"{action}: {type(exc).__name__}: {exc}")


def _denied(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in _DENIED


def _error_code(exc: Exception) -> str | None:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def collect_rds(client: Any, target: AwsRdsTarget) -> AwsRdsFacts:
    """All facts of one aws-rds target; `client(service)` returns a boto3 client."""
    rds = client("rds")
    unavailable: dict[str, str] = {}
    observed_at = now_iso()
    database = _database(rds, target)

    snapshots: tuple[RdsSnapshot, ...] | None
    try:
        snapshots = _snapshots(rds, database)
    except Exception as exc:
        if not _denied(exc):
            raise _explain(exc, "listing snapshots") from None
        snapshots = None
        unavailable["snapshots"] = (
            "needs IAM permission rds:DescribeDBClusterSnapshots"
            if database.is_cluster
            else "needs IAM permission rds:DescribeDBSnapshots"
        )

    kms_key = None
    if database.kms_key_id:
        kms_key, reason = _kms_key(client("kms"), database.kms_key_id)
        if reason:
            unavailable["kms_key"] = reason

    buckets: list[BucketInfo] = []
    if target.backup_buckets:
        s3 = client("s3")
        for bucket in target.backup_buckets:
            info_b, reason = _bucket(s3, bucket)
            buckets.append(info_b)
            if reason:
                unavailable[f"bucket:{bucket}"] = reason

    return AwsRdsFacts(
        observed_at=observed_at,
        region=target.region,
        database=database,
        snapshots=snapshots,
        kms_key=kms_key,
        buckets=tuple(buckets),
        unavailable=unavailable,
    )


def _database(rds: Any, target: AwsRdsTarget) -> RdsDatabase:
    try:
        if target.db_cluster:
            found = rds.describe_db_clusters(DBClusterIdentifier=target.db_cluster)["DBClusters"]
        else:
            found = rds.describe_db_instances(DBInstanceIdentifier=target.db_instance)[
                "DBInstances"
            ]
    except Exception as exc:
        code = _error_code(exc)
        if code in ("DBInstanceNotFound", "DBInstanceNotFoundFault", "DBClusterNotFoundFault"):
            what = target.db_cluster or target.db_instance
            raise AwsProblem(
                TargetStatus.ERROR, f"{what!r} not found in region {target.region}"
            ) from None
        raise _explain(exc, "describing the database") from None
    db = found[0]
    is_cluster = target.db_cluster is not None
    if is_cluster:
        groups = [
            ParameterGroupStatus(name=db.get("DBClusterParameterGroup", ""), apply_status=None)
        ]
    else:
        groups = [
            ParameterGroupStatus(
                name=g["DBParameterGroupName"], apply_status=g.get("ParameterApplyStatus")
            )
            for g in db.get("DBParameterGroups", [])
        ]
    force_ssl = _force_ssl(rds, groups[0].name if groups else None, is_cluster)
    return RdsDatabase(
        identifier=db.get("DBClusterIdentifier") if is_cluster else db["DBInstanceIdentifier"],
        arn=db.get("DBClusterArn") if is_cluster else db.get("DBInstanceArn"),
        is_cluster=is_cluster,
        engine=db.get("Engine"),
        engine_version=db.get("EngineVersion"),
        storage_encrypted=bool(db.get("StorageEncrypted")),
        kms_key_id=db.get("KmsKeyId"),
        backup_retention_days=db.get("BackupRetentionPeriod"),
        parameter_groups=tuple(groups),
        force_ssl=force_ssl,
        **_endpoint(db, is_cluster),
    )


def _endpoint(db: dict[str, Any], is_cluster: bool) -> dict[str, Any]:
    """A cluster reports its writer endpoint as a name with a separate Port; an instance as
    Endpoint {Address, Port} (absent while it is being created)."""
    if is_cluster:
        address, port = db.get("Endpoint"), db.get("Port")
    else:
        found = db.get("Endpoint") or {}
        address, port = found.get("Address"), found.get("Port")
    return {
        "endpoint": address if isinstance(address, str) and address else None,
        "port": port if isinstance(port, int) else None,
    }


def _force_ssl(rds: Any, group: str | None, is_cluster: bool) -> str | None:
    if not group:
        return None
    if is_cluster:
        pages = rds.get_paginator("describe_db_cluster_parameters").paginate(
            DBClusterParameterGroupName=group
        )
    else:
        pages = rds.get_paginator("describe_db_parameters").paginate(DBParameterGroupName=group)
    for page in pages:
        for param in page.get("Parameters", []):
            if param.get("ParameterName") == "rds.force_ssl":
                value = param.get("ParameterValue")
                return str(value) if value is not None else None
    return None


def _snapshots(rds: Any, database: RdsDatabase) -> tuple[RdsSnapshot, ...]:
    if database.is_cluster:
        pages = rds.get_paginator("describe_db_cluster_snapshots").paginate(
            DBClusterIdentifier=database.identifier
        )
        key, ident = "DBClusterSnapshots", "DBClusterSnapshotIdentifier"
        encrypted_field = "StorageEncrypted"
    else:
        pages = rds.get_paginator("describe_db_snapshots").paginate(
            DBInstanceIdentifier=database.identifier
        )
        key, ident = "DBSnapshots", "DBSnapshotIdentifier"
        encrypted_field = "Encrypted"
    found = []
    for page in pages:
        for snap in page.get(key, []):
            found.append(
                RdsSnapshot(
                    identifier=snap[ident],
                    encrypted=bool(snap.get(encrypted_field)),
                    kms_key_id=snap.get("KmsKeyId"),
                    snapshot_type=snap.get("SnapshotType"),
                )
            )
    return tuple(sorted(found, key=lambda s: s.identifier))


def _kms_key(kms: Any, key_id: str) -> tuple[KmsKey | None, str | None]:
    try:
        meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    except Exception as exc:
        if _denied(exc):
            return None, "needs IAM permission kms:DescribeKey"
        code = _error_code(exc)
        return None, f"kms:DescribeKey failed: {code or type(exc).__name__}"
    rotation: bool | None = None
    period: int | None = None
    try:
        status = kms.get_key_rotation_status(KeyId=meta["KeyId"])
        rotation = bool(status.get("KeyRotationEnabled"))
        period = status.get("RotationPeriodInDays")
    except Exception as exc:
        if not _denied(exc) and meta.get("KeyManager") == "CUSTOMER":
            raise _explain(exc, "reading KMS key rotation") from None
    return KmsKey(
        key_id=meta["KeyId"],
        arn=meta.get("Arn"),
        manager=meta.get("KeyManager"),
        state=meta.get("KeyState"),
        rotation_enabled=rotation,
        rotation_period_days=period,
    ), None


def collect_aws_secrets(client: Any, target: AwsRdsTarget) -> SecretsFacts:
    """Rotation metadata of the declared Secrets Manager secrets (DescribeSecret only)."""
    found: list[SecretInfo] = []
    sm = client("secretsmanager") if target.secrets else None
    for declared in target.secrets:
        base = declared_secret(declared)
        try:
            assert sm is not None
            meta = sm.describe_secret(SecretId=declared.name)
        except Exception as exc:
            if _denied(exc):
                found.append(
                    SecretInfo(
                        **base,
                        found=False,
                        unavailable="needs IAM permission secretsmanager:DescribeSecret",
                    )
                )
                continue
            if _error_code(exc) == "ResourceNotFoundException":
                found.append(SecretInfo(**base, found=False))
                continue
            raise _explain(exc, f"describing secret {declared.name!r}") from None
        rules = meta.get("RotationRules") or {}
        found.append(
            SecretInfo(
                **base,
                found=True,
                reference=meta.get("ARN"),
                rotation_enabled=bool(meta.get("RotationEnabled")),
                rotation_after_days=rules.get("AutomaticallyAfterDays"),
                created=_iso(meta.get("CreatedDate")),
                last_changed=_iso(meta.get("LastChangedDate")),
                last_rotated=_iso(meta.get("LastRotatedDate")),
            )
        )
    return SecretsFacts(provider="aws-secretsmanager", observed_at=now_iso(), secrets=tuple(found))


def _bucket(s3: Any, name: str) -> tuple[BucketInfo, str | None]:
    algorithm: str | None = None
    key_id: str | None = None
    try:
        rules = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]
        default = rules["Rules"][0].get("ApplyServerSideEncryptionByDefault", {})
        algorithm = default.get("SSEAlgorithm")
        key_id = default.get("KMSMasterKeyID")
    except Exception as exc:
        if _denied(exc):
            return BucketInfo(
                name=name, sse_algorithm=None
            ), "needs IAM permission s3:GetEncryptionConfiguration"
        if _error_code(exc) == "NoSuchBucket":
            # A declared bucket that is gone is a finding about that bucket, not a reason to
            # lose every other verdict of the target.
            return BucketInfo(name=name, sse_algorithm=None, exists=False), None
        if _error_code(exc) != "ServerSideEncryptionConfigurationNotFoundError":
            raise _explain(exc, f"reading encryption of bucket {name!r}") from None
    block: dict[str, bool] | None = None
    try:
        config = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        block = {k: bool(v) for k, v in sorted(config.items())}
    except Exception as exc:
        if _denied(exc):
            return BucketInfo(
                name=name, sse_algorithm=algorithm, kms_key_id=key_id
            ), "needs IAM permission s3:GetBucketPublicAccessBlock"
        if _error_code(exc) != "NoSuchPublicAccessBlockConfiguration":
            raise _explain(exc, f"reading public access block of bucket {name!r}") from None
    return BucketInfo(
        name=name, sse_algorithm=algorithm, kms_key_id=key_id, public_access_block=block
    ), None
