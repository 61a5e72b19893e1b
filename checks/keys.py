"""Key management: KMS key rotation, rotation age and automation of declared secrets, and the
application's key cache (a manual attestation)."""

from __future__ import annotations

import datetime as dt

from auditor.checks.base import Check
from auditor.collectors.aws import AwsRdsFacts
from auditor.collectors.azure import AzurePostgresFacts
from auditor.collectors.azure_key_vault import AzureKeyVaultFacts, KeyVaultKeyPolicy
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
        "rotation period, a Key Vault rotation policy with a Rotate action) at the policy's "
        "interval or sooner."
    )
    kinds = frozenset({"aws-rds", "gcp-cloudsql", "azure-postgres"})
    reads = (AwsRdsFacts, GcpCloudSqlFacts, AzurePostgresFacts, AzureKeyVaultFacts)

    def run(self, facts: Facts) -> list[Result]:
        # One id, several clouds: judge whichever cloud's facts this target has.
        if facts.target.kind == "gcp-cloudsql":
            return self._gcp(facts)
        if facts.target.kind == "azure-postgres":
            return self._azure(facts)
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
        compare = {
            "expected": f"rotated at least every {limit} days",
            "actual": f"every {period} days" if period else "automatic, period not reported",
        }
        if period is not None and period > limit:
            return [
                self.failed(
                    facts,
                    f"key {key.key_id} rotates every {period} days (policy: {limit})",
                    resource=key.key_id,
                    evidence=evidence,
                    **compare,
                )
            ]
        every = f"every {period} days" if period else "automatically"
        return [
            self.passed(
                facts,
                f"customer-managed key {key.key_id} rotates {every}",
                resource=key.key_id,
                evidence=evidence,
                **compare,
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
        evidence: dict[str, object] = {
            "api": "cloudkms cryptoKeys.get",
            "rotationPeriod_days": key.rotation_period_days,
            "nextRotationTime": key.next_rotation_time,
        }
        if key.rotation_period_days is None:
            return [
                self.failed(
                    facts,
                    f"{key.name}: no rotation period (never rotates)",
                    resource=key.name,
                    evidence=evidence,
                )
            ]
        return [self._period_verdict(facts, key.name, key.rotation_period_days, evidence)]

    def _azure(self, facts: Facts) -> list[Result]:
        server = facts.get(AzurePostgresFacts)
        in_vault = AzureKeyVaultFacts.section in facts.gaps or facts.has(AzureKeyVaultFacts)
        keys = facts.get(AzureKeyVaultFacts).keys if in_vault else ()
        results = [self._azure_key(facts, key) for key in keys]
        cmk = server.primary_key_uri if server.data_encryption_type == "AzureKeyVault" else None
        if cmk and not any(
            k.role == "server CMK" or cmk.startswith(k.reference + "/") for k in keys
        ):
            results.append(
                self.skipped(
                    facts,
                    f"customer-managed key {cmk}: set key_vault: to the vault that holds "
                    "it to read its rotation policy",
                    resource=cmk,
                )
            )
        if results:
            return results
        if server.data_encryption_type == "SystemManaged":
            return [
                self.passed(
                    facts,
                    "service-managed encryption key: rotated by Microsoft",
                    evidence={"dataEncryption.type": "SystemManaged"},
                )
            ]
        return [self.skipped(facts, "no Key Vault keys declared (key_vault: and keys:)")]

    def _azure_key(self, facts: Facts, key: KeyVaultKeyPolicy) -> Result:
        if key.unavailable:
            return self.skipped(facts, key.unavailable, resource=key.reference)
        if not key.found:
            return self.failed(
                facts, f"{key.reference}: the key does not exist", resource=key.reference
            )
        evidence: dict[str, object] = {
            "api": "Key Vault GET /keys/{name}/rotationpolicy",
            "role": key.role,
            "lifetimeActions": [a.model_dump() for a in key.actions],
            "expiryTime": key.expires_in,
            "policy_created": key.policy_created,
            "rotate_every_days": key.rotate_every_days,
        }
        rotates = [a for a in key.actions if a.action.lower() == "rotate"]
        if not rotates:
            default = "" if key.policy_created else " (the vault's default policy)"
            return self.failed(
                facts,
                f"{key.reference}: rotation policy has no Rotate action{default}: the key "
                "never rotates automatically",
                resource=key.reference,
                evidence=evidence,
            )
        days = key.rotate_every_days
        if days is None:
            return self.failed(
                facts,
                f"{key.reference}: the Rotate action is timed before an expiry that new "
                "versions never get (no expiryTime): it never fires",
                resource=key.reference,
                evidence=evidence,
            )
        return self._period_verdict(facts, key.reference, days, evidence)

    def _period_verdict(
        self, facts: Facts, name: str, period_days: float, evidence: dict[str, object]
    ) -> Result:
        """A key that rotates on a schedule (Cloud KMS, Key Vault): judged against policy."""
        limit = facts.target.policy.kms_rotation_max_days
        days = round(period_days)
        compare = {"expected": f"rotated at least every {limit} days", "actual": f"{days} days"}
        if period_days > limit:
            return self.failed(
                facts,
                f"{name}: rotates every {days} days (policy {limit})",
                resource=name,
                evidence=evidence,
                **compare,
            )
        return self.passed(
            facts, f"{name}: rotates every {days} days", resource=name, evidence=evidence, **compare
        )


SECRET_KINDS = frozenset({"aws-rds", "vault", "gcp-cloudsql", "azure-postgres"})


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
        compare = {"expected": f"at most {limit} days old", "actual": f"{age} days ({since_label})"}
        if age > limit:
            return self.failed(facts, message, resource=secret.name, evidence=evidence, **compare)
        return self.passed(facts, message, resource=secret.name, evidence=evidence, **compare)


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
            evidence: dict[str, object] = {
                "provider": store.provider,
                "rotation_enabled": secret.rotation_enabled,
                "rotation_after_days": secret.rotation_after_days,
            }
            if secret.next_rotation:
                evidence["next_rotation"] = secret.next_rotation
            if secret.expires:
                evidence["expires"] = secret.expires
            limit = _max_age(secret, facts)
            if secret.rotation_enabled is None:
                # Not a skip: the control still applies, it is only carried out outside the
                # store (a job, or Key Vault's near-expiry event driving a function), so an
                # auditor must see evidence of that job.
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
                once = (
                    f" (only a one-time rotation notice at {secret.next_rotation})"
                    if secret.next_rotation
                    else ""
                )
                results.append(
                    self.failed(
                        facts,
                        f"{secret.name}: automatic rotation is off{once}",
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
                every = (
                    f"every {secret.rotation_after_days} days"
                    if secret.rotation_after_days
                    else "on a schedule"
                )
                how = (
                    " (Secret Manager publishes SECRET_ROTATE to its Pub/Sub topics)"
                    if store.provider == "gcp-secretmanager"
                    else ""
                )
                results.append(
                    self.passed(
                        facts,
                        f"{secret.name}: rotates {every}{how}",
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
