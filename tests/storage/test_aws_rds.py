"""Storage and key checks for `aws-rds` targets, through the real boto3 client against the
moto AWS emulator (in-process), plus recorded facts for ages no emulator can fake."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from auditor.checks.keys import KmsKeyRotation, SecretRotationAge
from auditor.collectors.aws import AwsRdsFacts, KmsKey, RdsDatabase
from auditor.collectors.secrets import SecretInfo, SecretsFacts
from auditor.config import parse_config
from auditor.facts import Facts, TargetContext
from auditor.model import Result, Status, TargetStatus
from auditor.runner import run_scan

REGION = "eu-west-1"
AWS_CHECKS = {
    "storage.aws_rds_encrypted", "storage.aws_rds_snapshots_encrypted",
    "storage.aws_rds_backups", "transport.aws_rds_force_ssl", "storage.backup_encryption",
    "keys.kms_key_rotation", "keys.secret_rotation_age", "keys.auto_rotation_enabled",
}
ENC_KEY = "agentauri/prod/database/encryption-key-v1"
MASTER = "agentauri/prod/database/master-password"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


def build_compliant() -> None:
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key(Description="agentauri TDE")["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    rds = boto3.client("rds", region_name=REGION)
    rds.create_db_parameter_group(DBParameterGroupName="pg15-secure",
                                  DBParameterGroupFamily="postgres15", Description="tls")
    rds.modify_db_parameter_group(DBParameterGroupName="pg15-secure", Parameters=[
        {"ParameterName": "rds.force_ssl", "ParameterValue": "1",
         "ApplyMethod": "pending-reboot"}])
    rds.create_db_instance(
        DBInstanceIdentifier="agentauri-prod", DBInstanceClass="db.t3.micro",
        Engine="postgres", EngineVersion="15.4", MasterUsername="postgres",
        MasterUserPassword="not-used-by-tests", AllocatedStorage=20, StorageEncrypted=True,
        KmsKeyId=key["Arn"], BackupRetentionPeriod=14, DBParameterGroupName="pg15-secure")
    rds.create_db_snapshot(DBInstanceIdentifier="agentauri-prod", DBSnapshotIdentifier="nightly")
    sm = boto3.client("secretsmanager", region_name=REGION)
    for name, days in ((ENC_KEY, 365), (MASTER, 90)):
        sm.create_secret(Name=name, SecretString="canary-secret-value-51f2")
        sm.rotate_secret(SecretId=name, RotationRules={"AutomaticallyAfterDays": days})
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="agentauri-wal-archive",
                     CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_encryption(Bucket="agentauri-wal-archive", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]}}]})
    s3.put_public_access_block(Bucket="agentauri-wal-archive", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})


def build_weak() -> None:
    rds = boto3.client("rds", region_name=REGION)
    rds.create_db_parameter_group(DBParameterGroupName="pg14-legacy",
                                  DBParameterGroupFamily="postgres14", Description="legacy")
    rds.modify_db_parameter_group(DBParameterGroupName="pg14-legacy", Parameters=[
        {"ParameterName": "rds.force_ssl", "ParameterValue": "0", "ApplyMethod": "immediate"}])
    rds.create_db_instance(
        DBInstanceIdentifier="legacy", DBInstanceClass="db.t3.micro", Engine="postgres",
        EngineVersion="14.10", MasterUsername="postgres", MasterUserPassword="not-used-by-tests",
        AllocatedStorage=20, StorageEncrypted=False, BackupRetentionPeriod=1,
        DBParameterGroupName="pg14-legacy")
    rds.create_db_snapshot(DBInstanceIdentifier="legacy", DBSnapshotIdentifier="before-upgrade")
    sm = boto3.client("secretsmanager", region_name=REGION)
    sm.create_secret(Name=MASTER, SecretString="canary-secret-value-51f2")
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="legacy-backups",
                     CreateBucketConfiguration={"LocationConstraint": REGION})


def config(instance: str, bucket: str, endpoint: str | None = None) -> str:
    lines = [
        "targets:", "  - name: rds", "    kind: aws-rds", f"    region: {REGION}",
        f"    db_instance: {instance}",
        "    secrets:",
        f"      - {{name: {ENC_KEY}, purpose: encryption-key}}",
        f"      - {{name: {MASTER}, purpose: master-password}}",
        f"    backup_buckets: [{bucket}]",
    ]
    if endpoint:
        lines.append(f"    endpoint_url: '{endpoint}'")
    return "\n".join(lines) + "\n"


def scan(text: str) -> tuple[dict[tuple[str, str | None], Result], TargetStatus, list[Facts]]:
    results, bundles = run_scan(parse_config(text, "aws.yaml"), Path.cwd(),
                                check_ids=AWS_CHECKS)
    found = {(r.check_id, r.resource): r for r in results.findings}
    return found, results.targets[0].status, bundles


def test_compliant_rds_passes_every_storage_and_key_check(aws: None) -> None:
    build_compliant()
    found, status, bundles = scan(config("agentauri-prod", "agentauri-wal-archive"))
    assert status is TargetStatus.SCANNED
    assert {k: r.status for k, r in found.items() if r.status is not Status.PASS} == {}
    encrypted = found[("storage.aws_rds_encrypted", "agentauri-prod")]
    assert "customer-managed key" in encrypted.message
    assert encrypted.evidence["StorageEncrypted"] is True
    assert found[("keys.secret_rotation_age", ENC_KEY)].evidence["age_days"] == 0
    # Secret values are never read: the canary is nowhere in facts or results.
    dumped = json.dumps([b.to_json() for b in bundles]) + repr(found)
    assert "canary-secret-value-51f2" not in dumped


def test_weak_rds_fails_with_the_offending_resources(aws: None) -> None:
    build_weak()
    found, status, _ = scan(config("legacy", "legacy-backups"))
    assert status is TargetStatus.SCANNED
    failed = {k: r.message for k, r in found.items() if r.status is Status.FAIL}
    assert failed[("storage.aws_rds_encrypted", "legacy")] == "legacy: StorageEncrypted is false"
    snapshots = failed[("storage.aws_rds_snapshots_encrypted", "legacy")]
    assert "before-upgrade" in snapshots and "unencrypted" in snapshots
    assert failed[("storage.aws_rds_backups", "legacy")] == (
        "legacy: backup retention 1 day(s), policy 7")
    assert failed[("transport.aws_rds_force_ssl", "legacy")] == "legacy: rds.force_ssl = 0"
    bucket = failed[("storage.backup_encryption", "legacy-backups")]
    assert "no default encryption rule" in bucket and "BlockPublicAcls" in bucket
    assert failed[("keys.secret_rotation_age", ENC_KEY)] == (
        f"declared secret {ENC_KEY} does not exist")
    assert failed[("keys.auto_rotation_enabled", MASTER)] == (
        f"{MASTER}: automatic rotation is off")
    assert found[("keys.kms_key_rotation", None)].status is Status.SKIP


def test_missing_database_and_unreachable_endpoint_are_target_errors(aws: None) -> None:
    found, status, _ = scan(config("no-such-db", "b"))
    assert status is TargetStatus.ERROR
    reasons = {r.message for r in found.values()}
    assert reasons == {f"target error: 'no-such-db' not found in region {REGION}"}


def test_unreachable_aws_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    found, status, _ = scan(config("db", "b", endpoint=f"http://127.0.0.1:{port}"))
    assert status is TargetStatus.UNREACHABLE
    assert all("cannot reach the AWS endpoint" in r.message for r in found.values())


def test_secret_age_is_judged_against_the_observation_time() -> None:
    # Recorded facts: a master password created 200 days before the scan, never rotated.
    facts = Facts(TargetContext("rds", "aws-rds"))
    facts.add(SecretsFacts(
        provider="aws-secretsmanager", observed_at="2026-06-30T12:00:00+00:00",
        secrets=(
            SecretInfo(name=MASTER, purpose="master-password", max_age_days=None, found=True,
                       created="2025-12-12T12:00:00+00:00"),
            SecretInfo(name=ENC_KEY, purpose="encryption-key", max_age_days=None, found=True,
                       created="2024-01-01T00:00:00+00:00",
                       last_rotated="2026-03-01T00:00:00+00:00"),
        ),
    ))
    results = {r.resource: r for r in SecretRotationAge().run(facts)}
    assert results[MASTER].status is Status.FAIL
    assert results[MASTER].message == f"{MASTER}: created, never rotated 200 days ago (policy 90)"
    assert results[ENC_KEY].status is Status.PASS
    assert results[ENC_KEY].evidence["age_days"] == 121


@pytest.mark.parametrize("rotation_on", [False, True])
def test_customer_key_rotation_is_judged(aws: None, rotation_on: bool) -> None:
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key(Description="agentauri TDE")["KeyMetadata"]
    if rotation_on:
        kms.enable_key_rotation(KeyId=key["KeyId"])
    rds = boto3.client("rds", region_name=REGION)
    rds.create_db_instance(
        DBInstanceIdentifier="cmk-db", DBInstanceClass="db.t3.micro", Engine="postgres",
        EngineVersion="15.4", MasterUsername="postgres", MasterUserPassword="not-used-by-tests",
        AllocatedStorage=20, StorageEncrypted=True, KmsKeyId=key["Arn"])
    found, status, _ = scan(config("cmk-db", "no-such-bucket"))
    # A declared bucket that does not exist fails on its own; the target is still scanned.
    assert status is TargetStatus.SCANNED
    missing = found[("storage.backup_encryption", "no-such-bucket")]
    assert missing.status is Status.FAIL and "does not exist" in missing.message
    result = found[("keys.kms_key_rotation", key["KeyId"])]
    assert result.evidence["KeyManager"] == "CUSTOMER"
    assert result.evidence["KeyRotationEnabled"] is rotation_on
    if rotation_on:
        assert result.status is Status.PASS, result.message
    else:
        assert result.status is Status.FAIL
        assert result.message.endswith("automatic rotation is disabled")


@pytest.mark.parametrize(("period", "status"), [(730, Status.FAIL), (365, Status.PASS)])
def test_kms_rotation_period_is_judged_against_policy(period: int, status: Status) -> None:
    # Recorded facts: moto ignores RotationPeriodInDays, the real API reports it.
    facts = Facts(TargetContext("rds", "aws-rds"))
    facts.add(AwsRdsFacts(
        observed_at="2026-06-30T12:00:00+00:00", region=REGION,
        database=RdsDatabase(identifier="db", arn=None, is_cluster=False, engine="postgres",
                             engine_version="15.4", storage_encrypted=True, kms_key_id="k1",
                             backup_retention_days=7),
        kms_key=KmsKey(key_id="k1", arn=None, manager="CUSTOMER", state="Enabled",
                       rotation_enabled=True, rotation_period_days=period),
    ))
    [result] = KmsKeyRotation().run(facts)
    assert result.status is status
    if status is Status.FAIL:
        assert result.message == "key k1 rotates every 730 days (policy: 365)"
