"""Tables of scanning: the scan of each image digest, its findings, and the layer summaries cache.

Migration 0016 creates them. Results belong to a digest, not a repository: the same bytes have
the same packages wherever they are pushed, so a digest is scanned once and every repository
holding it sees the result. Rows outlive the manifest (a digest pushed again finds its results).
"""

from __future__ import annotations

import sqlalchemy as sa

from moorage.metadata.tables import DIGEST, manifests, metadata

# Migration 0016: the scan job finds every repository holding a digest (to read it, to add its SBOM).
ix_manifests_digest = sa.Index("ix_manifests_digest", manifests.c.digest)

scans = sa.Table(
    "scans",
    metadata,
    sa.Column("digest", DIGEST, primary_key=True),
    sa.Column("status", sa.String(24), nullable=False),  # model.ScanStatus
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("database_version", sa.String(128), nullable=True),
    sa.Column("inventory", sa.JSON, nullable=True),
    sa.Column("counts", sa.JSON, nullable=True),  # {"CRITICAL": n, …}: summaries without reading findings
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revision", sa.Integer, nullable=False),  # +1 on every change: readers cache by it
    # An index is not scanned itself: its row lists its image manifests, whose results it aggregates.
    sa.Column("index_of", sa.JSON, nullable=True),
)

scan_findings = sa.Table(
    "scan_findings",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("digest", DIGEST, nullable=False),
    sa.Column("severity_rank", sa.Integer, nullable=False),  # Severity.rank: filter "at or above" in SQL
    sa.Column("vulnerability_id", sa.String(128), nullable=False),
    sa.Column("document", sa.JSON, nullable=False),  # the Finding, as scanning/records.py writes it
    sa.Index("ix_scan_findings_digest_rank", "digest", "severity_rank", "id"),
)

layer_summaries = sa.Table(
    "layer_summaries",
    metadata,
    sa.Column("digest", DIGEST, primary_key=True),
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
