"""Tables of the pull-through cache (migrations 0018, 0024): its rules, what it has cached, what it is filling.

A rule maps a local prefix to an upstream registry; its credentials are stored only as a secret-box
token (auth/secret_box.py). `cached_repositories` marks the repositories the cache created (a
transparent mirror tells them from hosted ones by it); `cached_tags` records when each tag was last
resolved upstream, so every process and node applies the same freshness rule.
"""

from __future__ import annotations

import sqlalchemy as sa

from moorage.metadata.tables import DIGEST, metadata

cache_rules = sa.Table(
    "cache_rules",
    metadata,
    sa.Column("prefix", sa.String(255), primary_key=True),  # "" is a transparent mirror of one upstream
    sa.Column("upstream_url", sa.String(1024), nullable=False),
    sa.Column("upstream_prefix", sa.String(255), nullable=True),
    sa.Column("username", sa.String(255), nullable=True),
    sa.Column("password_encrypted", sa.Text, nullable=True),
    sa.Column("created_by", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

cached_repositories = sa.Table(
    "cached_repositories",
    metadata,
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("rule_prefix", sa.String(255), nullable=False),
    sa.Column("upstream_name", sa.String(255), nullable=False),
)

cached_tags = sa.Table(
    "cached_tags",
    metadata,
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag", sa.String(128), primary_key=True),
    sa.Column("upstream_digest", DIGEST, nullable=False),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
)

cache_fill_leases = sa.Table(
    "cache_fill_leases",
    metadata,
    sa.Column("repository", sa.String(255), primary_key=True),
    sa.Column("digest", DIGEST, primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
)
"""Who is copying a blob from the upstream now (migration 0024): one fill across processes and nodes.

A lease, not a lock: no transaction is held across the transfer. The filling process renews it
while it copies and deletes it when done; a lease left by a dead process runs out and is taken over.
"""
