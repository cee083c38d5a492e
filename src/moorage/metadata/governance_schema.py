"""Tables of image governance: repository settings, creation templates, tag history, audit log, activity.

History and audit rows name their repository by name, not by id, so they outlive the repository:
"what did prod/api:v1 point to during the incident" must have an answer after a delete.
"""

from __future__ import annotations

import sqlalchemy as sa

from moorage.metadata.tables import DIGEST, metadata

repository_settings = sa.Table(
    "repository_settings",
    metadata,
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("visibility", sa.String(16), nullable=False),
    sa.Column("tag_mutability", sa.String(32), nullable=False),
    sa.Column("mutability_filters", sa.JSON, nullable=False),
    sa.Column("scan_on_push", sa.Boolean, nullable=False),
    sa.Column("lifecycle_policy", sa.JSON, nullable=True),  # unused since migration 0013: see lifecycle_policies
    sa.Column("created_by", sa.String(255), nullable=False),
    sa.Column("tag_rules", sa.JSON, nullable=True),  # migration 0014: {"allowed": [...], "refused": [...]}
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

namespace_tag_rules = sa.Table(
    "namespace_tag_rules",  # migration 0014: the tag naming rules of every repository under `namespace/`
    metadata,
    sa.Column("namespace", sa.String(255), primary_key=True),
    sa.Column("rules", sa.JSON, nullable=False),
    sa.Column("updated_by", sa.String(255), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

creation_templates = sa.Table(
    "creation_templates",
    metadata,
    sa.Column("prefix", sa.String(255), primary_key=True),
    sa.Column("create_on_push", sa.Boolean, nullable=False),
    sa.Column("settings", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

tag_history = sa.Table(
    "tag_history",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("repository", sa.String(255), nullable=False),
    sa.Column("tag", sa.String(128), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # create, move, delete
    sa.Column("old_digest", DIGEST, nullable=True),
    sa.Column("new_digest", DIGEST, nullable=True),
    sa.Column("actor_kind", sa.String(32), nullable=False),
    sa.Column("actor_name", sa.String(255), nullable=False),
    sa.Column("actor_credential", sa.String(255), nullable=True),
    sa.Column("source_address", sa.String(64), nullable=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_tag_history_repository_tag", "repository", "tag", "id"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("repository", sa.String(255), nullable=True),
    sa.Column("target", sa.String(512), nullable=True),  # 255 until migration 0012 (SQLite: no limit)
    sa.Column("outcome", sa.String(16), nullable=False),  # success, denied, failure
    sa.Column("actor_kind", sa.String(32), nullable=False),
    sa.Column("actor_name", sa.String(255), nullable=False),
    sa.Column("actor_credential", sa.String(255), nullable=True),
    sa.Column("source_address", sa.String(64), nullable=True),
    sa.Column("detail", sa.JSON, nullable=True),
    sa.Column("prev_hash", sa.String(64), nullable=True),  # the hash chain (domain/audit_chain.py)
    sa.Column("hash", sa.String(64), nullable=True),
    sa.Index("ix_audit_log_repository", "repository", "id"),
    sa.Index("ix_audit_log_at", "at"),
)

audit_chain_head = sa.Table(
    "audit_chain_head",
    metadata,
    # One row (id 1): the newest entry's id and hash. Appends lock it, so the chain never forks.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("last_id", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

manifest_activity = sa.Table(
    "manifest_activity",
    metadata,
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("digest", DIGEST, primary_key=True),
    sa.Column("pushed_by", sa.String(255), nullable=True),
    sa.Column("pull_count", sa.BigInteger, nullable=False, default=0),
    sa.Column("last_pulled_at", sa.DateTime(timezone=True), nullable=True),
)
