"""Tables of OIDC federation: trusted issuers, their claim rules, and the credentials exchanged for ID tokens.

Migration 0002a creates them. Deleting an issuer deletes its rules and revokes every credential
exchanged through it (cascade).
"""

from __future__ import annotations

import sqlalchemy as sa

from moorage.metadata.tables import metadata

oidc_issuers = sa.Table(
    "oidc_issuers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("issuer", sa.String(512), nullable=False, unique=True),
    sa.Column("audience", sa.String(255), nullable=False),
    sa.Column("jwks_uri", sa.String(1024), nullable=True),
    sa.Column("static_jwks", sa.JSON, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

oidc_rules = sa.Table(
    "oidc_rules",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("issuer_id", sa.Integer, sa.ForeignKey("oidc_issuers.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("claims", sa.JSON, nullable=False),
    sa.Column("repositories", sa.JSON, nullable=False),
    sa.Column("actions", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("issuer_id", "name"),
)

oidc_credentials = sa.Table(
    "oidc_credentials",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("issuer_id", sa.Integer, sa.ForeignKey("oidc_issuers.id", ondelete="CASCADE"), nullable=False),
    sa.Column("subject", sa.String(512), nullable=False),
    sa.Column("grants", sa.JSON, nullable=False),
    sa.Column("source_address", sa.String(64), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_oidc_credentials_expires_at", "expires_at"),
)
