"""The first history schema: runs, run_shards, run_scope, run_targets, findings,
evidence_digests (auditor/store/schema.py describes them).

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from auditor.store.schema import Id, Json, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _run_fk() -> sa.Column[str]:
    return sa.Column(
        "run_id", sa.String(128), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime, nullable=False),
        sa.Column("tool_version", sa.String(64), nullable=False),
        sa.Column("config_digest", sa.String(128)),
        sa.Column("shard_count", sa.Integer, nullable=False, server_default="1"),
        sa.Column("metadata", Json),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_runs_finished_at", "runs", ["finished_at"])
    op.create_table(
        "run_shards",
        _run_fk(),
        sa.Column("shard", sa.Integer, primary_key=True),
        sa.Column("shard_count", sa.Integer, nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime, nullable=False),
        sa.Column("results_sha256", sa.String(64), nullable=False),
        sa.Column("attestation", Json),
    )
    op.create_table(
        "run_scope",
        _run_fk(),
        sa.Column("check_id", sa.String(200), primary_key=True),
    )
    op.create_table(
        "run_targets",
        _run_fk(),
        sa.Column("target", sa.String(500), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("declared_at", sa.Text),
        sa.Column("inventory", Json),
        sa.Column("shard", sa.Integer, nullable=False),
    )
    op.create_table(
        "findings",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "run_id",
            sa.String(128),
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("check_id", sa.String(200), nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("remediation", sa.Text, nullable=False),
        sa.Column("evidence", Json, nullable=False),
        sa.Column("evidence_sha256", sa.String(64), nullable=False),
        sa.Column("controls", Json, nullable=False),
        sa.Column("first_seen", UtcDateTime),
        sa.Column("first_seen_run", sa.String(128)),
    )
    op.create_index("ix_findings_run", "findings", ["run_id", "target"])
    op.create_index("ix_findings_key", "findings", ["target", "check_id", "resource"])
    op.create_table(
        "evidence_digests",
        _run_fk(),
        sa.Column("target", sa.String(500), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("evidence_digests", "findings", "run_targets", "run_scope", "run_shards"):
        op.drop_table(table)
    op.drop_table("runs")
