"""OIDC federation: trusted issuers, claim rules, exchanged credentials.

Revision ID: 0002a
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002a"
down_revision = "0002"
branch_labels = None
depends_on = None


def _timestamp(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "oidc_issuers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("issuer", sa.String(512), nullable=False, unique=True),
        sa.Column("audience", sa.String(255), nullable=False),
        sa.Column("jwks_uri", sa.String(1024), nullable=True),
        sa.Column("static_jwks", sa.JSON, nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
    )
    op.create_table(
        "oidc_rules",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("issuer_id", sa.Integer, sa.ForeignKey("oidc_issuers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("claims", sa.JSON, nullable=False),
        sa.Column("repositories", sa.JSON, nullable=False),
        sa.Column("actions", sa.JSON, nullable=False),
        _timestamp("created_at"),
        sa.UniqueConstraint("issuer_id", "name"),
    )
    op.create_table(
        "oidc_credentials",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("issuer_id", sa.Integer, sa.ForeignKey("oidc_issuers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("subject", sa.String(512), nullable=False),
        sa.Column("grants", sa.JSON, nullable=False),
        sa.Column("source_address", sa.String(64), nullable=True),
        _timestamp("created_at"),
        _timestamp("expires_at"),
    )
    op.create_index("ix_oidc_credentials_expires_at", "oidc_credentials", ["expires_at"])


def downgrade() -> None:
    op.drop_table("oidc_credentials")
    op.drop_table("oidc_rules")
    op.drop_table("oidc_issuers")
