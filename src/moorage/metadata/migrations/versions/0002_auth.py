"""Accounts, credentials, signing keys and grants (authentication issue).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        _time("created_at"),
    )
    op.create_table("organizations", sa.Column("name", sa.String(64), primary_key=True), _time("created_at"))
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "organization", sa.String(64), sa.ForeignKey("organizations.name", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(64), nullable=False),
        _time("created_at"),
        sa.UniqueConstraint("organization", "name"),
    )
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_table(
        "role_bindings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subject_kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(130), nullable=False),
        sa.Column("pattern", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        _time("created_at"),
        sa.UniqueConstraint("subject_kind", "subject", "pattern"),
    )
    op.create_index("ix_role_bindings_subject", "role_bindings", ["subject_kind", "subject"])
    op.create_table(
        "access_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("grants", sa.JSON, nullable=False),
        _time("created_at"),
        _time("expires_at", True),
        _time("revoked_at", True),
        _time("last_used_at", True),
        sa.UniqueConstraint("user_id", "name"),
    )
    op.create_table(
        "robots",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("namespace", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.String(255), nullable=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("grants", sa.JSON, nullable=False),
        _time("created_at"),
        _time("expires_at", True),
        _time("last_used_at", True),
        sa.UniqueConstraint("namespace", "name"),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("private_pem", sa.Text, nullable=False),
        sa.Column("public_pem", sa.Text, nullable=False),
        _time("created_at"),
        _time("signs_until"),
        _time("verifies_until"),
    )
    op.create_table(
        "rate_limit_counters",
        sa.Column("key", sa.String(200), primary_key=True),
        _time("window_start"),
        sa.Column("count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "rate_limit_counters",
        "signing_keys",
        "robots",
        "access_tokens",
        "role_bindings",
        "team_members",
        "teams",
        "organizations",
        "users",
    ):
        op.drop_table(table)
