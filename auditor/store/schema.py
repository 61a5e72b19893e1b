"""The history tables, for the store's queries and for a GRC tool or Grafana reading them.

Migrations (auditor/store/migrations/versions) create exactly these; a change here needs a
new migration. Times are UTC (`timestamptz` on PostgreSQL). A finding's `resource` is ''
for a target-level verdict, so (run, target, check, resource) indexes without NULLs.

* runs — one scheduled run (all its shards): when, which tool, which config.
* run_shards — each process that wrote into a run (`--shard K/N`), with its results digest
  and signature, so a merged run can tell when a shard is missing.
* run_scope — the checks the run selected (diffs compare within the shared scope).
* run_targets — each target's outcome in the run (scanned / unreachable / error).
* findings — every verdict: check, target, resource, status, severity, message, evidence,
  evidence SHA-256, and for failures when the failure was first seen.
* evidence_digests — SHA-256 of each target's evidence bundle (facts) as collected.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC datetime on both databases (SQLite keeps no offset: stored naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


Json = JSON().with_variant(JSONB(), "postgresql")
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("tool_version", String(64), nullable=False),
    Column("config_digest", String(128)),
    Column("shard_count", Integer, nullable=False, server_default="1"),
    Column("metadata", Json),
    Column("recorded_at", UtcDateTime, nullable=False),
    Index("ix_runs_finished_at", "finished_at"),
)

run_shards = Table(
    "run_shards",
    metadata,
    Column("run_id", String(128), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("shard", Integer, primary_key=True),  # 1..shard_count
    Column("shard_count", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("results_sha256", String(64), nullable=False),
    Column("attestation", Json),
)

run_scope = Table(
    "run_scope",
    metadata,
    Column("run_id", String(128), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("check_id", String(200), primary_key=True),
)

run_targets = Table(
    "run_targets",
    metadata,
    Column("run_id", String(128), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("target", String(500), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("error", Text),
    Column("declared_at", Text),
    Column("inventory", Json),
    Column("shard", Integer, nullable=False),
)

findings = Table(
    "findings",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", String(128), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("target", String(500), nullable=False),
    Column("check_id", String(200), nullable=False),
    Column("resource", Text, nullable=False),
    Column("ordinal", Integer, nullable=False),  # order within the run's target
    Column("status", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("title", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("remediation", Text, nullable=False),
    Column("evidence", Json, nullable=False),
    Column("evidence_sha256", String(64), nullable=False),
    Column("controls", Json, nullable=False),
    Column("first_seen", UtcDateTime),  # failing verdicts: start of the failing stretch
    Column("first_seen_run", String(128)),
    Index("ix_findings_run", "run_id", "target"),
    Index("ix_findings_key", "target", "check_id", "resource"),
)

evidence_digests = Table(
    "evidence_digests",
    metadata,
    Column("run_id", String(128), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("target", String(500), primary_key=True),
    Column("kind", String(32), primary_key=True),  # "facts": the collected evidence bundle
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
)
