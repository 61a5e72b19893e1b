"""Thresholds the checks judge against, with defaults that follow the reference design.

Config may override any field under `policy:`; unknown keys are configuration errors.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from auditor.model import Severity


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Transport
    min_tls_version: Literal["TLSv1.2", "TLSv1.3"] = "TLSv1.2"
    tls_profile: Literal["intermediate", "modern", "custom"] = "intermediate"
    allowed_cipher_suites: tuple[str, ...] = ()  # used when tls_profile is "custom"
    certificate_min_days_left: int = Field(30, ge=0)
    certificate_min_rsa_bits: int = Field(2048, ge=512)
    certificate_min_ec_bits: int = Field(256, ge=160)
    tls_probe_timeout_seconds: float = Field(10.0, gt=0)

    # Column layer
    allowed_column_ciphers: tuple[str, ...] = ("aes256",)
    sample_rows_per_column: int = Field(200, ge=1, le=100_000)
    sample_budget_seconds: float = Field(20.0, gt=0)
    # Read-only connections sampling one server at once (each opened like the scan's own
    # session); 1 keeps the scan's footprint to a single connection per server.
    sample_connections: int = Field(1, ge=1, le=8)
    pii_min_fraction: float = Field(0.05, gt=0, le=1)
    # Every column found holding OpenPGP ciphertext counts as declared in sensitive_columns
    # (auditor/ciphertext_columns.py).
    ciphertext_columns_are_sensitive: bool = False

    # Audit trail
    access_log_table: str = "encrypted_data_access_log"
    access_log_max_age_days: int = Field(7, ge=1)

    # Storage, backups and keys
    backup_retention_min_days: int = Field(7, ge=0)
    encryption_key_max_age_days: int = Field(365, ge=1)
    master_password_max_age_days: int = Field(90, ge=1)
    kms_rotation_max_days: int = Field(365, ge=1)

    # Waivers: the longest a waiver may run from its approval date (or from today when it
    # has none); a longer one is a configuration error, so accepted risk gets re-reviewed.
    waiver_max_days: int = Field(365, ge=1, le=3650)

    # Severity overrides per check id (policy may raise or lower a default).
    severity: dict[str, Severity] = Field(default_factory=dict)
