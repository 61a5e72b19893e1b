"""The provider-neutral facts about declared secrets (rotation metadata only — a collector
never reads a secret's value), shared by the AWS Secrets Manager, Vault, Google Secret Manager
and Azure Key Vault collectors."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict

from auditor.config import DeclaredSecret
from auditor.facts import FactSection


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class SecretInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    purpose: str
    max_age_days: int | None
    found: bool
    reference: str | None = None  # ARN, Vault path...
    rotation_enabled: bool | None = False  # None: the provider has no built-in rotation
    rotation_after_days: int | None = None
    created: str | None = None
    last_changed: str | None = None
    last_rotated: str | None = None  # when the current value was put in place
    next_rotation: str | None = None  # the provider's next scheduled rotation (Google)
    expires: str | None = None  # expiry of the current value (Azure Key Vault `exp`)
    unavailable: str | None = None  # why metadata could not be read (permission needed)


class SecretsFacts(FactSection):
    section = "secrets"

    provider: str  # aws-secretsmanager | vault-kv2 | gcp-secretmanager | azure-keyvault
    observed_at: str  # ages are judged against this moment
    secrets: tuple[SecretInfo, ...] = ()


def declared_secret(declared: DeclaredSecret) -> dict[str, Any]:
    return {
        "name": declared.name,
        "purpose": declared.purpose,
        "max_age_days": declared.max_age_days,
    }
