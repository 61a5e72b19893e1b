"""Key management: KMS key rotation, rotation age and automation of declared secrets, and the
application's key cache (a manual attestation)."""

from __future__ import annotations

import datetime as dt

from auditor.checks.base import Check
from auditor.collectors.aws import AwsRdsFacts
from auditor.collectors.gcp import GcpCloudSqlFacts
from auditor.collectors.secrets import SecretInfo, SecretsFacts
from auditor.facts import Facts
from auditor.model import Result, Severity

AWS = frozenset({"aws-rds"})


class KmsKeyRotation(Check):
    id = "keys.kms_key_rotation"
    title = "The storage encryption key is rotated"
    severity = Severity.MEDIUM
    rationale = "Rotation limits how much data one key version protects (PCI DSS 3.6.4/3.7.4)."
    remediation = (
        "Enable automatic rotation on the customer-managed key (AWS KMS, Cloud KMS "
        "rotation period) at the policy's interval or sooner."
    )
    kinds = frozenset({"aws-rds", "gcp-cloudsql"})

    def run(self, facts: Facts) -> list[Result]:
        # One id, several clouds: judge whichever cloud's facts this target has.
        if facts.target.kind == "gcp-cloudsql":
            return self._gcp(facts)
        return self._aws(facts)

    def _aws(self, facts: Facts) -> list[Result]:
        aws = facts.get(AwsRdsFacts)
        key = aws.kms_key
        if key is None:
            reason = aws.unavailable.get("kms_key")
            if reason:
                return [self.skipped(facts, reason)]
            return [self.skipped(facts, "the database has no KMS key (storage not encrypted)")]
        evidence = {
            "api": "kms:GetKeyRotationStatus",
            "key": key.arn or key.key_id,
            "KeyManager": key.manager,
            "KeyRotationEnabled": key.rotation_enabled,
            "RotationPeriodInDays": key.rotation_period_days,
        }
        if key.manager == "AWS":
            return [
                self.passed(
                    facts,
                    "AWS-managed key: AWS rotates it every year",
                    resource=key.key_id,
                    evidence=evidence,
                )
            ]
        if not key.rotation_enabled:
            return [
                self.failed(
                    facts,
                    f"customer-managed key {key.key_id}: automatic rotation is disabled",
                    resource=key.key_id,
                    evidence=evidence,
                )
            ]
        limit = facts.target.policy.kms_rotation_max_days
        period = key.rotation_period_days
        if period is not None and period > limit:
            return [
                self.failed(
                    facts,
                    f"key {key.key_id} rotates every {period} days (policy: {limit})",
                    resource=key.key_id,
                    evidence=evidence,
                )
            ]
        every = f"every {period} days" if period else "automatically"
        return [
            self.passed(
                facts,
                f"customer-managed key {key.key_id} rotates {every}",
                resource=key.key_id,
                evidence=evidence,
            )
        ]

    def _gcp(self, facts: Facts) -> list[Result]:
        sql = facts.get(GcpCloudSqlFacts)
        if sql.kms_key_name is None:
            return [
                self.passed(
                    facts,
                    "Google-managed encryption key: rotated by Google",
                    evidence={"diskEncryptionConfiguration.kmsKeyName": None},
                )
            ]
        key = sql.kms_key
        if key is None:
            return [
                self.skipped(
                    facts,
                    sql.unavailable.get("kms_key", "key not readable"),
                    resource=sql.kms_key_name,
                )
            ]
        evidence = {
            "api": "cloudkms cryptoKeys.get",
            "rotationPeriod_days": key.rotation_period_days,
            "nextRotationTime": key.next_rotation_time,
        }
        limit = facts.target.policy.kms_rotation_max_days
        if key.rotation_period_days is None:
            return [
                self.failed(
                    facts,
                    f"{key.name}: no rotation period (never rotates)",
                    resource=key.name,
                    evidence=evidence,
                )
            ]
        days = round(key.rotation_period_days)
        if key.rotation_period_days > limit:
            return [
                self.failed(
                    facts,
                    f"{key.name}: rotates every {days} days (policy {limit})",
                    resource=key.name,
                    evidence=evidence,
                )
            ]
        return [
            self.passed(
                facts,
                f"{key.name}: rotates every {days} days",
                resource=key.name,
                evidence=evidence,
            )
        ]


SECRET_KINDS = frozenset({"aws-rds", "vault"})


def _max_age(secret: SecretInfo, facts: Facts) -> int | None:
    if secret.max_age_days is not None:
        return secret.max_age_days
    policy = facts.target.policy
    return {
        "encryption-key": policy.encryption_key_max_age_days,
        "master-password": policy.master_password_max_age_days,
    }.get(secret.purpose)


def _parse(moment: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(moment) if moment else None


class SecretRotationAge(Check):
    id = "keys.secret_rotation_age"
    title = "Each declared secret was rotated within its policy"
    severity = Severity.HIGH
    rationale = (
        "The design rotates the column encryption key yearly and the master password "
        "quarterly; an older secret has been exposed longer than the policy accepts."
    )
    remediation = "Rotate the secret (re-encrypt data for an encryption key) and automate it."
    requires = (SecretsFacts,)
    kinds = SECRET_KINDS

    def run(self, facts: Facts) -> list[Result]:
        store = facts.get(SecretsFacts)
        if not store.secrets:
            return [self.skipped(facts, "no secrets declared for this target")]
        observed = dt.datetime.fromisoformat(store.observed_at)
        return [self._judge(facts, secret, observed, store.observed_at) for secret in store.secrets]

    def _judge(
        self, facts: Facts, secret: SecretInfo, observed: dt.datetime, observed_at: str
    ) -> Result:
        if secret.unavailable:
            return self.skipped(facts, secret.unavailable, resource=secret.name)
        if not secret.found:
            return self.failed(
                facts, f"declared secret {secret.name} does not exist", resource=secret.name
            )
        limit = _max_age(secret, facts)
        if limit is None:
            return self.skipped(
                facts,
                f"{secret.name}: no max_age_days declared for a secret of purpose 'other'",
                resource=secret.name,
            )
        # Never rotated: its age is counted from creation (conservative, and provable).
        since_label, since = (
            ("last rotated", secret.last_rotated)
            if secret.last_rotated
            else ("created, never rotated", secret.created)
        )
        start = _parse(since)
        evidence: dict[str, object] = {
            "reference": secret.reference,
            "last_rotated": secret.last_rotated,
            "created": secret.created,
            "last_changed": secret.last_changed,
            "max_age_days": limit,
            "observed_at": observed_at,
        }
        if start is None:
            return self.errored(
                facts, f"{secret.name}: no creation or rotation date reported", resource=secret.name
            )
        age = (observed - start).days
        evidence["age_days"] = age
        message = f"{secret.name}: {since_label} {age} days ago (policy {limit})"
        if age > limit:
            return self.failed(facts, message, resource=secret.name, evidence=evidence)
        return self.passed(facts, message, resource=secret.name, evidence=evidence)


class AutoRotationEnabled(Check):
    id = "keys.auto_rotation_enabled"
    title = "Declared secrets rotate automatically"
    severity = Severity.MEDIUM
    rationale = "Manual rotation is forgotten; the service can rotate on a schedule."
    remediation = "Configure a rotation function and schedule within the secret's policy."
    requires = (SecretsFacts,)
    kinds = SECRET_KINDS

    def run(self, facts: Facts) -> list[Result]:
        store = facts.get(SecretsFacts)
        if not store.secrets:
            return [self.skipped(facts, "no secrets declared for this target")]
        results = []
        for secret in store.secrets:
            if not secret.found or secret.unavailable:
                continue  # reported by keys.secret_rotation_age
            evidence = {
                "provider": store.provider,
                "rotation_enabled": secret.rotation_enabled,
                "rotation_after_days": secret.rotation_after_days,
            }
            limit = _max_age(secret, facts)
            if secret.rotation_enabled is None:
                results.append(
                    self.manual(
                        facts,
                        f"{secret.name}: {store.provider} has no built-in rotation; attest "
                        "the job that rotates it",
                        resource=secret.name,
                        evidence=evidence,
                    )
                )
            elif not secret.rotation_enabled:
                results.append(
                    self.failed(
                        facts,
                        f"{secret.name}: automatic rotation is off",
                        resource=secret.name,
                        evidence=evidence,
                    )
                )
            elif limit and secret.rotation_after_days and secret.rotation_after_days > limit:
                results.append(
                    self.failed(
                        facts,
                        f"{secret.name}: rotates every {secret.rotation_after_days} days "
                        f"(policy {limit})",
                        resource=secret.name,
                        evidence=evidence,
                    )
                )
            else:
                results.append(
                    self.passed(
                        facts,
                        f"{secret.name}: rotates every {secret.rotation_after_days} days",
                        resource=secret.name,
                        evidence=evidence,
                    )
                )
        return results


class ApplicationKeyCache(Check):
    id = "keys.application_key_cache"
    title = "The application's key cache is short-lived and never persisted (attestation)"
    severity = Severity.INFO
    rationale = (
        "The design caches the column key in memory for at most an hour, never on "
        "disk, zeroised on exit; no scan can observe that from outside the process."
    )
    remediation = (
        "Attest it in the waivers/attestations file after reviewing the application "
        "code and its deployment."
    )
    kinds = frozenset({"postgres"})

    def run(self, facts: Facts) -> list[Result]:
        return [
            self.manual(
                facts,
                "needs an attestation: key cache TTL <= 1 h, never "
                "persisted, zeroised on process exit",
            )
        ]
