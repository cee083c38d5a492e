"""Tables of the vulnerability database: OSV records as imported, the packages they name, the sources.

Migration 0015 creates them. A record's raw JSON is kept whole (`document`): matching reads the
OSV fields it needs from it, and a later version of the matcher can read fields this one ignores
without a re-import. `vulnerability_packages` is the index a scan queries: one row per distinct
(ecosystem, release, name) an `affected[]` entry names, so an image's ~1,000 packages are looked up
with a few indexed `IN` queries instead of a scan of every record.
"""

from __future__ import annotations

import sqlalchemy as sa

from moorage.metadata.tables import metadata

vulnerability_records = sa.Table(
    "vulnerability_records",
    metadata,
    sa.Column("id", sa.String(255), primary_key=True),  # the OSV `id`: GHSA-…, DEBIAN-CVE-…, PYSEC-…
    sa.Column("modified", sa.DateTime(timezone=True), nullable=False),  # OSV `modified`: newer replaces
    sa.Column("source", sa.String(255), nullable=False),  # the source of the import that stored it
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("withdrawn", sa.Boolean, nullable=False, default=False),
    sa.Column("document", sa.Text, nullable=False),  # the record's JSON as published
)

vulnerability_packages = sa.Table(
    "vulnerability_packages",
    metadata,
    sa.Column(
        "record_id",
        sa.String(255),
        sa.ForeignKey("vulnerability_records.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("ecosystem", sa.String(64), primary_key=True),  # OSV ecosystem without its suffix: `Debian`
    sa.Column("release", sa.String(255), primary_key=True),  # the suffix (`12`, `v3.20`, `22.04:LTS`) or ""
    sa.Column("name", sa.String(512), primary_key=True),  # normalised the way the matcher normalises
    sa.Index("ix_vulnerability_packages_ecosystem_name", "ecosystem", "name"),
)

vulnerability_sources = sa.Table(
    "vulnerability_sources",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),  # what the importer called it: `debian`, `ghsa`…
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),  # its last import
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("records_read", sa.Integer, nullable=False),
    sa.Column("records_stored", sa.Integer, nullable=False),  # added or replaced by that import
    sa.Column("imports", sa.Integer, nullable=False),
)

vulnerability_database_state = sa.Table(
    "vulnerability_database_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),  # always 1: one row
    sa.Column("generation", sa.Integer, nullable=False),  # +1 on every import that changed records
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
)
