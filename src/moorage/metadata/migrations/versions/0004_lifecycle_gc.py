"""Lifecycle policies, runs and garbage collection (lifecycle issue).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _timestamp(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("blobs") as batch:
        batch.add_column(_timestamp("touched_at", nullable=True))
    op.create_index("ix_blobs_created_at", "blobs", ["created_at"])
    op.create_table(
        "lifecycle_policies",
        sa.Column("scope", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
        _timestamp("updated_at"),
    )
    op.create_table(
        "lifecycle_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _timestamp("started_at"),
        _timestamp("finished_at", nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("repositories", sa.Integer, nullable=False),
        sa.Column("images_expired", sa.Integer, nullable=False),
        sa.Column("bytes_freed", sa.BigInteger, nullable=False),
        sa.Column("expired", sa.JSON, nullable=True),
    )
    op.create_table(
        "gc_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _timestamp("started_at"),
        _timestamp("finished_at", nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("blobs_deleted", sa.Integer, nullable=False),
        sa.Column("bytes_freed", sa.BigInteger, nullable=False),
        sa.Column("uploads_purged", sa.Integer, nullable=False),
        sa.Column("duration_seconds", sa.Float, nullable=True),
        sa.Column("holder", sa.String(64), nullable=True),
    )
    op.create_table(
        "gc_tombstones",
        sa.Column("digest", sa.String(140), primary_key=True),
        _timestamp("created_at"),
    )
    op.create_table(
        "maintenance_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        _timestamp("expires_at"),
    )


def downgrade() -> None:
    for table in ("maintenance_leases", "gc_tombstones", "gc_runs", "lifecycle_runs", "lifecycle_policies"):
        op.drop_table(table)
    op.drop_index("ix_blobs_created_at", "blobs")
    with op.batch_alter_table("blobs") as batch:
        batch.drop_column("touched_at")
