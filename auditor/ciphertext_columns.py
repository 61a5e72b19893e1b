"""`policy: {ciphertext_columns_are_sensitive: true}`: every column found holding OpenPGP
ciphertext counts as a declared sensitive column, so an estate need not list hundreds of
already-encrypted columns by hand. Once declared, such a column is judged like one from
`sensitive_columns`: every sampled value must be ciphertext (a column that is encrypted for
most rows but plaintext for some fails column.sensitive_encrypted), and pgcrypto must be there.

Only undeclared columns the PII search sampled can be found this way, so a scan narrowed to
the declared columns (`--check column.sensitive_encrypted`) promotes nothing. Columns of the
access log's identity (who accessed, from where) are never promoted."""

from __future__ import annotations

from auditor.collectors.pg.columns import ColumnFacts, ColumnSample
from auditor.policy import Policy


def _promoted(sample: ColumnSample) -> bool:
    return not sample.declared and sample.openpgp > 0 and not sample.audit_trail


def declare_ciphertext_columns(facts: ColumnFacts, policy: Policy) -> ColumnFacts:
    if not policy.ciphertext_columns_are_sensitive:
        return facts
    names = tuple(s.name for s in facts.samples if _promoted(s))
    if not names:
        return facts
    samples = tuple(
        s.model_copy(update={"declared": True}) if _promoted(s) else s for s in facts.samples
    )
    return facts.model_copy(
        update={
            "samples": samples,
            "declared": (*facts.declared, *names),
            "declared_by_policy": names,
        }
    )
