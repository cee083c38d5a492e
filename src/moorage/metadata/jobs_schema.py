"""The table of background jobs: durable work the server's workers (or `moorage worker`) run once.

Migration 0016 creates it. A job is `pending` until a worker claims it (`running`, with a holder and
a lease), then it is deleted when it succeeds or kept as `failed` after its last attempt, so the
table holds only work still to do and the failures someone may want to look at.
"""

from __future__ import annotations

import sqlalchemy as sa

from moorage.metadata.tables import metadata

PENDING = "pending"
RUNNING = "running"
FAILED = "failed"

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),  # "scan", later "gc", "webhook"…
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("dedup_key", sa.String(255), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # pending, running, failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
    sa.Column("holder", sa.String(64), nullable=True),
    sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_jobs_status_run_after", "status", "run_after"),
    # One pending job per key (one pending scan per digest): a second enqueue is a no-op.
    sa.Index(
        "uq_jobs_pending_dedup_key",
        "dedup_key",
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    ),
)
