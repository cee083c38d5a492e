"""Tables of lifecycle policies, their runs, garbage collection (runs, tombstones) and maintenance leases.

Migration 0004 creates them (and adds `blobs.touched_at`, declared in tables.py).
"""

from __future__ import annotations

import sqlalchemy as sa

from moorage.metadata.tables import metadata

lifecycle_policies = sa.Table(
    "lifecycle_policies",
    metadata,
    sa.Column("scope", sa.String(16), primary_key=True),  # "repository" or "namespace"
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

lifecycle_runs = sa.Table(
    "lifecycle_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # running, completed, failed
    sa.Column("repositories", sa.Integer, nullable=False, default=0),
    sa.Column("images_expired", sa.Integer, nullable=False, default=0),
    sa.Column("bytes_freed", sa.BigInteger, nullable=False, default=0),
    sa.Column("expired", sa.JSON, nullable=True),  # each image: repository, digest, tags, rule, reason, size
    sa.Column("trigger", sa.String(16), nullable=True),  # migration 0010: "schedule" or "manual"
    sa.Column("started_by", sa.String(255), nullable=True),  # migration 0010: who, for a manual run
)

gc_runs = sa.Table(
    "gc_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # running, completed, interrupted, failed
    sa.Column("dry_run", sa.Boolean, nullable=False),
    sa.Column("blobs_deleted", sa.Integer, nullable=False, default=0),
    sa.Column("bytes_freed", sa.BigInteger, nullable=False, default=0),
    sa.Column("uploads_purged", sa.Integer, nullable=False, default=0),
    sa.Column("duration_seconds", sa.Float, nullable=True),
    sa.Column("holder", sa.String(64), nullable=True),
)

maintenance_leases = sa.Table(
    "maintenance_leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(64), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

gc_tombstones = sa.Table(
    "gc_tombstones",
    metadata,
    sa.Column("digest", sa.String(140), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
"""Blobs whose rows GC removed and whose bytes it has yet to delete (docs/gc.md, two phases)."""
