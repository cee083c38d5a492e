"""Tables of accounts, credentials, role bindings, signing keys and rate-limit counters.

Secrets are never stored: passwords as argon2 hashes, access-token and robot secrets as SHA-256
of a 256-bit random value (a slow hash adds nothing to a secret that cannot be guessed).
"""

from __future__ import annotations

import sqlalchemy as sa

from moorage.metadata.tables import metadata


def _time(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=True),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    _time("created_at"),
    # Signed login passwords and refresh tokens carry the generation they were issued under;
    # bumping it (password change, disabling, revoke-sessions) revokes them all at once.
    sa.Column("credential_generation", sa.Integer, nullable=False, default=0, server_default="0"),
)

organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    _time("created_at"),
)

teams = sa.Table(
    "teams",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("organization", sa.String(64), sa.ForeignKey("organizations.name", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    _time("created_at"),
    sa.UniqueConstraint("organization", "name"),
)

team_members = sa.Table(
    "team_members",
    metadata,
    sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)

role_bindings = sa.Table(
    "role_bindings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subject_kind", sa.String(16), nullable=False),  # user | team | anonymous
    sa.Column("subject", sa.String(130), nullable=False),  # user name, "org/team", or "*"
    sa.Column("pattern", sa.String(255), nullable=False),  # "ns/repo", "ns/*" or "*"
    sa.Column("role", sa.String(16), nullable=False),
    _time("created_at"),
    sa.UniqueConstraint("subject_kind", "subject", "pattern"),
    sa.Index("ix_role_bindings_subject", "subject_kind", "subject"),
)

access_tokens = sa.Table(
    "access_tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("grants", sa.JSON, nullable=False),
    _time("created_at"),
    _time("expires_at", nullable=True),
    _time("revoked_at", nullable=True),
    _time("last_used_at", nullable=True),
    sa.UniqueConstraint("user_id", "name"),
)

robots = sa.Table(
    "robots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("namespace", sa.String(64), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("description", sa.String(255), nullable=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("grants", sa.JSON, nullable=False),
    _time("created_at"),
    _time("expires_at", nullable=True),
    _time("last_used_at", nullable=True),
    sa.UniqueConstraint("namespace", "name"),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(64), primary_key=True),
    sa.Column("algorithm", sa.String(16), nullable=False),
    sa.Column("private_pem", sa.Text, nullable=True),  # plaintext of databases before 0005; NULL once sealed
    sa.Column("private_key_encrypted", sa.Text, nullable=True),  # the PKCS#8 PEM, encrypted (auth/secret_box.py)
    sa.Column("public_pem", sa.Text, nullable=False),
    _time("created_at"),
    _time("signs_until"),
    _time("verifies_until"),
    _time("retired_at", nullable=True),
)

rate_limit_counters = sa.Table(
    "rate_limit_counters",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    _time("window_start"),
    sa.Column("count", sa.Integer, nullable=False),
)
