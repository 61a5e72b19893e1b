"""TLS policy profiles as data: which protocol versions and cipher suites a server may accept.

The Mozilla profiles live in `auditor/policies/tls_profiles.yaml`; `custom` takes its suites
from the policy's `allowed_cipher_suites` (IANA or OpenSSL names). The protocol floor of every
profile is also bounded by the policy's `min_tls_version`.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict

from auditor.policy import Policy
from auditor.tls.suites import iana_name

TLS_VERSIONS = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


def version_rank(version: str) -> int:
    """Orders PostgreSQL/OpenSSL version names; unknown names sort first (treated as oldest)."""
    return TLS_VERSIONS.index(version) if version in TLS_VERSIONS else -1


class TlsProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str
    protocols: tuple[str, ...]
    cipher_suites: frozenset[str]  # IANA names

    def allows_suite(self, name: str) -> bool:
        return iana_name(name) in self.cipher_suites


@cache
def _builtin() -> dict[str, TlsProfile]:
    text = resources.files("auditor").joinpath("policies/tls_profiles.yaml").read_text()
    data = yaml.safe_load(text)
    return {
        name: TlsProfile(
            name=name,
            description=body["description"],
            protocols=tuple(body["protocols"]),
            cipher_suites=frozenset(body["cipher_suites"]),
        )
        for name, body in data.items()
    }


def profile_for(policy: Policy) -> TlsProfile:
    """The profile the policy selects, with its protocol list cut at `min_tls_version`."""
    floor = version_rank(policy.min_tls_version)
    if policy.tls_profile == "custom":
        base = _builtin()["intermediate"]
        profile = TlsProfile(
            name="custom",
            description="custom cipher suite list from policy.allowed_cipher_suites",
            protocols=base.protocols,
            cipher_suites=frozenset(iana_name(s) for s in policy.allowed_cipher_suites),
        )
    else:
        profile = _builtin()[policy.tls_profile]
    protocols = tuple(p for p in profile.protocols if version_rank(p) >= floor)
    return profile.model_copy(update={"protocols": protocols})
