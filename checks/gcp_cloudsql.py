"""Layer 3 on Google Cloud: a Cloud SQL instance's disk encryption, TLS mode and backups."""

from __future__ import annotations

from auditor.checks.base import Check
from auditor.collectors.gcp import GcpCloudSqlFacts
from auditor.facts import Facts
from auditor.model import Result, Severity

ENCRYPTED_MODES = ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED")


class GcpCloudSqlEncrypted(Check):
    id = "storage.gcp_cloudsql_encrypted"
    title = "Cloud SQL: disk encrypted, TLS required, backups and point-in-time recovery on"
    severity = Severity.CRITICAL
    rationale = (
        "Cloud SQL always encrypts disks (Google- or customer-managed key); whether "
        "clients may connect without TLS and whether data can be restored are settings."
    )
    remediation = (
        "Set sslMode to ENCRYPTED_ONLY (or TRUSTED_CLIENT_CERTIFICATE_REQUIRED), "
        "enable automated backups and point-in-time recovery; use CMEK where policy "
        "asks for customer-managed keys."
    )
    requires = (GcpCloudSqlFacts,)
    kinds = frozenset({"gcp-cloudsql"})

    def run(self, facts: Facts) -> list[Result]:
        sql = facts.get(GcpCloudSqlFacts)
        problems = []
        if sql.ssl_mode not in ENCRYPTED_MODES and not (sql.ssl_mode is None and sql.require_ssl):
            problems.append(
                f"sslMode = {sql.ssl_mode or 'unset'} (unencrypted connections allowed)"
            )
        if not sql.backups_enabled:
            problems.append("automated backups disabled")
        if not sql.point_in_time_recovery:
            problems.append("point-in-time recovery disabled")
        key = f"CMEK {sql.kms_key_name}" if sql.kms_key_name else "Google-managed key"
        evidence = {
            "api": "sqladmin instances.get",
            "databaseVersion": sql.database_version,
            "sslMode": sql.ssl_mode,
            "requireSsl": sql.require_ssl,
            "diskEncryptionConfiguration.kmsKeyName": sql.kms_key_name,
            "backupConfiguration.enabled": sql.backups_enabled,
            "pointInTimeRecoveryEnabled": sql.point_in_time_recovery,
        }
        if problems:
            return [
                self.failed(
                    facts,
                    f"{sql.instance}: " + "; ".join(problems),
                    resource=sql.instance,
                    evidence=evidence,
                )
            ]
        return [
            self.passed(
                facts,
                f"{sql.instance}: disk encrypted ({key}), sslMode "
                f"{sql.ssl_mode}, backups and PITR on",
                resource=sql.instance,
                evidence=evidence,
            )
        ]
