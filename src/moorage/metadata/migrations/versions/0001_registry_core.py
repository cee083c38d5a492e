"""The registry core: repositories, blobs, manifests, tags and uploads.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DIGEST = sa.String(140)


def _timestamp(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _repository_fk(primary_key: bool = False) -> sa.Column:  # type: ignore[type-arg]
    foreign_key = sa.ForeignKey("repositories.id", ondelete="CASCADE", name=None)
    return sa.Column("repository_id", sa.Integer, foreign_key, primary_key=primary_key, nullable=False)


def upgrade() -> None:
    op.create_table(
        "repositories",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        _timestamp("created_at"),
    )
    op.create_table(
        "blobs",
        sa.Column("digest", DIGEST, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        _timestamp("created_at"),
    )
    op.create_table(
        "repository_blobs",
        _repository_fk(primary_key=True),
        sa.Column("digest", DIGEST, sa.ForeignKey("blobs.digest"), primary_key=True),
        _timestamp("created_at"),
    )
    op.create_index("ix_repository_blobs_digest", "repository_blobs", ["digest"])
    op.create_table(
        "manifests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _repository_fk(),
        sa.Column("digest", DIGEST, nullable=False),
        sa.Column("media_type", sa.String(255), nullable=False),
        sa.Column("artifact_type", sa.String(255), nullable=True),
        sa.Column("subject_digest", DIGEST, nullable=True),
        sa.Column("annotations", sa.JSON, nullable=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        _timestamp("pushed_at"),
        sa.UniqueConstraint("repository_id", "digest"),
    )
    op.create_index("ix_manifests_subject", "manifests", ["repository_id", "subject_digest"])
    op.create_table(
        "manifest_references",
        sa.Column("manifest_id", sa.Integer, sa.ForeignKey("manifests.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("digest", DIGEST, primary_key=True),
    )
    op.create_index("ix_manifest_references_digest", "manifest_references", ["digest"])
    op.create_table(
        "tags",
        _repository_fk(primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("manifest_digest", DIGEST, nullable=False),
        _timestamp("updated_at"),
    )
    op.create_index("ix_tags_manifest", "tags", ["repository_id", "manifest_digest"])
    op.create_table(
        "uploads",
        sa.Column("id", sa.String(36), primary_key=True),
        _repository_fk(),
        _timestamp("created_at"),
        _timestamp("updated_at"),
    )


def downgrade() -> None:
    for table in ("uploads", "tags", "manifest_references", "manifests", "repository_blobs", "blobs", "repositories"):
        op.drop_table(table)
