"""Pull-through cache: rules, the repositories the cache created, and when each tag was last resolved.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

DIGEST = sa.String(140)


def upgrade() -> None:
    op.create_table(
        "cache_rules",
        sa.Column("prefix", sa.String(255), primary_key=True),
        sa.Column("upstream_url", sa.String(1024), nullable=False),
        sa.Column("upstream_prefix", sa.String(255), nullable=True),
        sa.Column("username", sa.String(255), nullable=True),
        sa.Column("password_encrypted", sa.Text, nullable=True),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "cached_repositories",
        sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("rule_prefix", sa.String(255), nullable=False),
        sa.Column("upstream_name", sa.String(255), nullable=False),
    )
    op.create_table(
        "cached_tags",
        sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("tag", sa.String(128), primary_key=True),
        sa.Column("upstream_digest", DIGEST, nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cached_tags")
    op.drop_table("cached_repositories")
    op.drop_table("cache_rules")
