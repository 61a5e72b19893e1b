"""Signing saved facts bundles (`auditor scan --save-facts DIR --sign-key KEY`) and checking
them before `auditor evaluate --public-key PUB` judges them again.

A bundle is what a later, offline evaluation trusts instead of a live server, so it is signed
the same way as the scan's results and host evidence (auditor/signing.py: a DSSE envelope over
an in-toto Statement whose subject is the bundle's own digest, in its `attestation` key). Any
change to the bundle (a setting, a sampled shape, a gap) breaks the signature.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from auditor.signing import Signer, TrustedKey, sign_document, verify_document

FACTS_NAME = "facts.json"
FACTS_PREDICATE = "https://auditor.invalid/attestation/facts/v1"


def sign_facts(document: Mapping[str, Any], signer: Signer) -> dict[str, Any]:
    """The bundle with its signature; the predicate names the target and when it was read."""
    target = document.get("target") or {}
    predicate = {
        "target": target.get("name") if isinstance(target, dict) else None,
        "collected": document.get("collected"),
    }
    return sign_document(document, FACTS_NAME, signer, FACTS_PREDICATE, predicate)


def verify_facts(document: Mapping[str, Any], trusted: Iterable[TrustedKey]) -> TrustedKey:
    """The trusted key that signed the bundle as it is now (EnvelopeError otherwise)."""
    return verify_document(document, FACTS_NAME, FACTS_PREDICATE, trusted)
