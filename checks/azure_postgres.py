"""Layer 3 on Azure: a flexible server's storage encryption and the server parameters that
keep transport encrypted."""

from __future__ import annotations

from auditor.checks.base import Check
from auditor.collectors.azure import AzurePostgresFacts
from auditor.facts import Facts
from auditor.model import Result, Severity

_TLS_ORDER = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]


class AzurePostgresEncrypted(Check):
    id = "storage.azure_postgres_encrypted"
    title = "Azure flexible server: storage encrypted, TLS required, TLS 1.2 or newer"
    severity = Severity.CRITICAL
    rationale = (
        "Azure encrypts flexible-server storage with AES-256 (service- or customer-"
        "managed key); require_secure_transport and ssl_min_protocol_version decide "
        "whether clients may skip or downgrade TLS."
    )
    remediation = (
        "Set require_secure_transport = on and ssl_min_protocol_version = TLSv1.2 "
        "(or TLSv1.3); use a customer-managed Key Vault key where policy asks for it."
    )
    requires = (AzurePostgresFacts,)
    kinds = frozenset({"azure-postgres"})

    def run(self, facts: Facts) -> list[Result]:
        az = facts.get(AzurePostgresFacts)
        problems: list[str] = []
        notes: list[str] = []
        if az.data_encryption_type == "AzureKeyVault":
            notes.append(f"customer-managed key {az.primary_key_uri}")
        else:
            # Storage encryption cannot be turned off on flexible servers; only the key differs.
            notes.append("service-managed key")
        for name in ("require_secure_transport", "ssl_min_protocol_version"):
            if name in az.unavailable:
                return [self.skipped(facts, az.unavailable[name], resource=az.server)]
        secure = az.parameters["require_secure_transport"].value
        if (secure or "").lower() != "on":
            problems.append(f"require_secure_transport = {secure}")
        minimum = az.parameters["ssl_min_protocol_version"].value or ""
        floor = facts.target.policy.min_tls_version
        if minimum not in _TLS_ORDER or _TLS_ORDER.index(minimum) < _TLS_ORDER.index(floor):
            problems.append(f"ssl_min_protocol_version = {minimum} (policy {floor})")
        evidence = {
            "api": "Microsoft.DBforPostgreSQL/flexibleServers (GET) and configurations (GET)",
            "resource_id": az.resource_id,
            "dataEncryption.type": az.data_encryption_type,
            "primaryKeyURI": az.primary_key_uri,
            "parameters": {k: v.model_dump() for k, v in sorted(az.parameters.items())},
        }
        compare = {
            "expected": f"require_secure_transport on, ssl_min_protocol_version {floor} or newer",
            "actual": f"require_secure_transport {secure}, ssl_min_protocol_version {minimum}",
        }
        if problems:
            return [
                self.failed(
                    facts,
                    f"{az.server}: " + "; ".join(problems),
                    resource=az.server,
                    evidence=evidence,
                    **compare,
                )
            ]
        return [
            self.passed(
                facts,
                f"{az.server}: storage encrypted ({notes[0]}), TLS required, minimum {minimum}",
                resource=az.server,
                evidence=evidence,
                **compare,
            )
        ]
