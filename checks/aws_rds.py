"""Layer 3 on AWS: RDS storage encryption, snapshots, backups, the force-SSL parameter and
the buckets that hold backups and WAL archives."""

from __future__ import annotations

from auditor.checks.base import Check
from auditor.collectors.aws import AwsRdsFacts
from auditor.facts import Facts
from auditor.model import Result, Severity

AWS = frozenset({"aws-rds"})
STRONG_SSE = ("aws:kms", "aws:kms:dsse", "AES256")
PUBLIC_ACCESS_FLAGS = (
    "BlockPublicAcls",
    "BlockPublicPolicy",
    "IgnorePublicAcls",
    "RestrictPublicBuckets",
)


class AwsRdsEncrypted(Check):
    id = "storage.aws_rds_encrypted"
    title = "RDS storage is encrypted with a KMS key"
    severity = Severity.CRITICAL
    rationale = (
        "Storage encryption covers data files, logs, backups, snapshots and replicas; "
        "it can only be chosen when the instance is created."
    )
    remediation = (
        "Snapshot the database, copy the snapshot with encryption under a KMS key "
        "(preferably customer managed) and restore from the encrypted copy."
    )
    requires = (AwsRdsFacts,)
    kinds = AWS

    def run(self, facts: Facts) -> list[Result]:
        aws = facts.get(AwsRdsFacts)
        db = aws.database
        key = aws.kms_key
        evidence = {
            "api": "DescribeDBClusters" if db.is_cluster else "DescribeDBInstances",
            "identifier": db.identifier,
            "StorageEncrypted": db.storage_encrypted,
            "KmsKeyId": db.kms_key_id,
            "key_manager": key.manager if key else None,
        }
        if not db.storage_encrypted:
            return [
                self.failed(
                    facts,
                    f"{db.identifier}: StorageEncrypted is false",
                    resource=db.identifier,
                    evidence=evidence,
                )
            ]
        managed = {"CUSTOMER": "customer-managed key", "AWS": "AWS-managed key"}.get(
            key.manager if key and key.manager else "", "KMS key"
        )
        return [
            self.passed(
                facts,
                f"{db.identifier}: encrypted with a {managed} ({db.kms_key_id})",
                resource=db.identifier,
                evidence=evidence,
            )
        ]


class AwsRdsSnapshotsEncrypted(Check):
    id = "storage.aws_rds_snapshots_encrypted"
    title = "Every RDS snapshot is encrypted"
    severity = Severity.HIGH
    rationale = "A snapshot is a full copy of the personal data; unencrypted it can be shared."
    remediation = (
        "Copy each unencrypted snapshot with a KMS key (copy-db-snapshot "
        "--kms-key-id) and delete the unencrypted original."
    )
    requires = (AwsRdsFacts,)
    kinds = AWS

    def run(self, facts: Facts) -> list[Result]:
        aws = facts.get(AwsRdsFacts)
        if aws.snapshots is None:
            return [self.skipped(facts, aws.unavailable.get("snapshots", "snapshots unknown"))]
        plain = [s.identifier for s in aws.snapshots if not s.encrypted]
        evidence = {"snapshots": len(aws.snapshots), "unencrypted": plain}
        if plain:
            return [
                self.failed(
                    facts,
                    f"{len(plain)} of {len(aws.snapshots)} snapshots are "
                    f"unencrypted: {', '.join(plain)}",
                    evidence=evidence,
                    resource=aws.database.identifier,
                )
            ]
        return [
            self.passed(
                facts,
                f"all {len(aws.snapshots)} snapshots are encrypted",
                evidence=evidence,
                resource=aws.database.identifier,
            )
        ]


class AwsRdsBackups(Check):
    id = "storage.aws_rds_backups"
    title = "Automated backups are kept long enough for point-in-time recovery"
    severity = Severity.MEDIUM
    rationale = "GDPR Art. 32(1)(c) asks for the ability to restore availability of data."
    remediation = "Set the backup retention period to at least the policy's number of days."
    requires = (AwsRdsFacts,)
    kinds = AWS

    def run(self, facts: Facts) -> list[Result]:
        db = facts.get(AwsRdsFacts).database
        minimum = facts.target.policy.backup_retention_min_days
        days = db.backup_retention_days or 0
        evidence = {"BackupRetentionPeriod": days, "policy_min_days": minimum}
        message = f"{db.identifier}: backup retention {days} day(s), policy {minimum}"
        kw = {"evidence": evidence, "resource": db.identifier}
        kw |= {"expected": f"at least {max(minimum, 1)} day(s)", "actual": f"{days} day(s)"}
        if days < minimum or days == 0:
            return [self.failed(facts, message, **kw)]
        return [self.passed(facts, message, **kw)]


class AwsRdsForceSsl(Check):
    id = "transport.aws_rds_force_ssl"
    title = "RDS refuses connections without TLS (rds.force_ssl = 1)"
    severity = Severity.HIGH
    rationale = "Without rds.force_ssl a client may still connect in plaintext."
    remediation = (
        "Set rds.force_ssl = 1 in the instance's (cluster's) parameter group and "
        "reboot if the group is pending-reboot."
    )
    requires = (AwsRdsFacts,)
    kinds = AWS

    def run(self, facts: Facts) -> list[Result]:
        db = facts.get(AwsRdsFacts).database
        groups = [g.model_dump() for g in db.parameter_groups]
        evidence = {
            "parameter_groups": groups,
            "rds.force_ssl": db.force_ssl,
            "engine_version": db.engine_version,
        }
        pending = [g.name for g in db.parameter_groups if g.apply_status == "pending-reboot"]
        if db.force_ssl is None:
            # Not set explicitly: the engine default applies, which is 1 from PostgreSQL 15 on.
            major = _major(db.engine_version)
            if major is not None and major >= 15 and not pending:
                return [
                    self.passed(
                        facts,
                        f"{db.identifier}: rds.force_ssl not set explicitly; "
                        f"the PostgreSQL {major} default is 1",
                        evidence=evidence,
                        resource=db.identifier,
                    )
                ]
            return [
                self.failed(
                    facts,
                    f"{db.identifier}: rds.force_ssl is not set in "
                    f"{', '.join(g.name for g in db.parameter_groups) or 'any group'}"
                    f" (engine {db.engine_version}: default 0)",
                    evidence=evidence,
                    resource=db.identifier,
                )
            ]
        if db.force_ssl != "1":
            return [
                self.failed(
                    facts,
                    f"{db.identifier}: rds.force_ssl = {db.force_ssl}",
                    evidence=evidence,
                    resource=db.identifier,
                )
            ]
        if pending:
            return [
                self.failed(
                    facts,
                    f"{db.identifier}: rds.force_ssl = 1 but parameter group "
                    f"{', '.join(pending)} is pending-reboot (not in effect)",
                    evidence=evidence,
                    resource=db.identifier,
                )
            ]
        return [
            self.passed(
                facts,
                f"{db.identifier}: rds.force_ssl = 1 and in sync",
                evidence=evidence,
                resource=db.identifier,
            )
        ]


def _major(version: str | None) -> int | None:
    try:
        return int((version or "").split(".")[0])
    except ValueError:
        return None


class BackupEncryption(Check):
    id = "storage.backup_encryption"
    title = "Backup and WAL-archive buckets enforce encryption and block public access"
    severity = Severity.HIGH
    rationale = "Backups hold every row; a public or unencrypted bucket undoes the other layers."
    remediation = (
        "Set default bucket encryption to SSE-KMS (or at least SSE-S3) and enable "
        "all four S3 Block Public Access settings on the bucket."
    )
    requires = (AwsRdsFacts,)
    kinds = AWS

    def run(self, facts: Facts) -> list[Result]:
        aws = facts.get(AwsRdsFacts)
        if not aws.buckets:
            return [self.skipped(facts, "no backup_buckets declared for this target")]
        results = []
        for bucket in aws.buckets:
            reason = aws.unavailable.get(f"bucket:{bucket.name}")
            if reason:
                results.append(self.skipped(facts, reason, resource=bucket.name))
                continue
            if not bucket.exists:
                results.append(
                    self.failed(
                        facts,
                        f"s3://{bucket.name}: declared backup bucket does not exist",
                        resource=bucket.name,
                        evidence={"api": "s3:GetBucketEncryption", "error": "NoSuchBucket"},
                    )
                )
                continue
            problems = []
            if bucket.sse_algorithm not in STRONG_SSE:
                problems.append("no default encryption rule")
            block = bucket.public_access_block or {}
            off = [flag for flag in PUBLIC_ACCESS_FLAGS if not block.get(flag)]
            if off:
                problems.append(f"public access not blocked ({', '.join(off)} off)")
            evidence = {
                "SSEAlgorithm": bucket.sse_algorithm,
                "KMSMasterKeyID": bucket.kms_key_id,
                "PublicAccessBlock": bucket.public_access_block,
            }
            if problems:
                results.append(
                    self.failed(
                        facts,
                        f"s3://{bucket.name}: " + "; ".join(problems),
                        resource=bucket.name,
                        evidence=evidence,
                    )
                )
            else:
                results.append(
                    self.passed(
                        facts,
                        f"s3://{bucket.name}: default encryption "
                        f"{bucket.sse_algorithm}, public access blocked",
                        resource=bucket.name,
                        evidence=evidence,
                    )
                )
        return results
