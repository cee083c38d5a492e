"""The metadata schema: what exists in the registry. Migrations in `migrations/` create it."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

DIGEST = sa.String(140)

repositories = sa.Table(
    "repositories",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

blobs = sa.Table(
    "blobs",
    metadata,
    sa.Column("digest", DIGEST, primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("touched_at", sa.DateTime(timezone=True), nullable=True),  # migration 0004: GC grace clock
)

repository_blobs = sa.Table(
    "repository_blobs",
    metadata,
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("digest", DIGEST, sa.ForeignKey("blobs.digest"), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_repository_blobs_digest", "digest"),
)

manifests = sa.Table(
    "manifests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    sa.Column("digest", DIGEST, nullable=False),
    sa.Column("media_type", sa.String(255), nullable=False),
    sa.Column("artifact_type", sa.String(255), nullable=True),
    sa.Column("subject_digest", DIGEST, nullable=True),
    sa.Column("annotations", sa.JSON, nullable=True),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("touched_at", sa.DateTime(timezone=True), nullable=True),  # migration 0010: last PUT, even unchanged
    sa.UniqueConstraint("repository_id", "digest"),
    sa.Index("ix_manifests_subject", "repository_id", "subject_digest"),
    sa.Index("ix_manifests_repository_order", "repository_id", "id"),  # migration 0019: pages in push order
)

manifest_references = sa.Table(
    "manifest_references",
    metadata,
    sa.Column("manifest_id", sa.Integer, sa.ForeignKey("manifests.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),  # "blob" or "manifest"
    sa.Column("digest", DIGEST, primary_key=True),
    sa.Index("ix_manifest_references_digest", "digest"),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("manifest_digest", DIGEST, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_tags_manifest", "repository_id", "manifest_digest"),
)

uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("writer", sa.String(36), nullable=True),  # the append or commit holding the upload (a lease)
    sa.Column("writer_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("hash_offset", sa.BigInteger, nullable=True),  # the running SHA-256 after this many bytes
    sa.Column("hash_state", sa.LargeBinary, nullable=True),
)
