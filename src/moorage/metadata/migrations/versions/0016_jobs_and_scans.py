"""The durable job queue, and scanning: scans per digest, their findings, cached layer summaries.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

DIGEST = sa.String(140)


def _id() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True)


def _timestamp(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "jobs",
        _id(),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("dedup_key", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        _timestamp("run_after"),
        sa.Column("holder", sa.String(64), nullable=True),
        _timestamp("lease_expires_at", nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
    )
    op.create_index("ix_jobs_status_run_after", "jobs", ["status", "run_after"])
    op.create_index(
        "uq_jobs_pending_dedup_key",
        "jobs",
        ["dedup_key"],
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "scans",
        sa.Column("digest", DIGEST, primary_key=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("database_version", sa.String(128), nullable=True),
        sa.Column("inventory", sa.JSON, nullable=True),
        sa.Column("counts", sa.JSON, nullable=True),
        _timestamp("requested_at"),
        _timestamp("started_at", nullable=True),
        _timestamp("completed_at", nullable=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("index_of", sa.JSON, nullable=True),
    )
    op.create_index("ix_manifests_digest", "manifests", ["digest"])
    op.create_table(
        "scan_findings",
        _id(),
        sa.Column("digest", DIGEST, nullable=False),
        sa.Column("severity_rank", sa.Integer, nullable=False),
        sa.Column("vulnerability_id", sa.String(128), nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
    )
    op.create_index("ix_scan_findings_digest_rank", "scan_findings", ["digest", "severity_rank", "id"])
    op.create_table(
        "layer_summaries",
        sa.Column("digest", DIGEST, primary_key=True),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        _timestamp("created_at"),
    )


def downgrade() -> None:
    op.drop_table("layer_summaries")
    op.drop_index("ix_scan_findings_digest_rank", "scan_findings")
    op.drop_table("scan_findings")
    op.drop_index("ix_manifests_digest", "manifests")
    op.drop_table("scans")
    op.drop_index("uq_jobs_pending_dedup_key", "jobs")
    op.drop_index("ix_jobs_status_run_after", "jobs")
    op.drop_table("jobs")
