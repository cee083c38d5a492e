"""Repository settings, creation templates, tag history, audit log and manifest activity (governance).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DIGEST = sa.String(140)
BIG_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _timestamp(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _actor_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("actor_kind", sa.String(32), nullable=False),
        sa.Column("actor_name", sa.String(255), nullable=False),
        sa.Column("actor_credential", sa.String(255), nullable=True),
        sa.Column("source_address", sa.String(64), nullable=True),
    ]


def _repository_fk() -> sa.ForeignKey:
    return sa.ForeignKey("repositories.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "repository_settings",
        sa.Column("repository_id", sa.Integer, _repository_fk(), primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("tag_mutability", sa.String(32), nullable=False),
        sa.Column("mutability_filters", sa.JSON, nullable=False),
        sa.Column("scan_on_push", sa.Boolean, nullable=False),
        sa.Column("lifecycle_policy", sa.JSON, nullable=True),
        sa.Column("created_by", sa.String(255), nullable=False),
        _timestamp("updated_at"),
    )
    op.create_table(
        "creation_templates",
        sa.Column("prefix", sa.String(255), primary_key=True),
        sa.Column("create_on_push", sa.Boolean, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
    )
    op.create_table(
        "tag_history",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("tag", sa.String(128), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("old_digest", DIGEST, nullable=True),
        sa.Column("new_digest", DIGEST, nullable=True),
        *_actor_columns(),
        _timestamp("at"),
    )
    op.create_index("ix_tag_history_repository_tag", "tag_history", ["repository", "tag", "id"])
    op.create_table(
        "audit_log",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        _timestamp("at"),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("repository", sa.String(255), nullable=True),
        sa.Column("target", sa.String(255), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        *_actor_columns(),
        sa.Column("detail", sa.JSON, nullable=True),
    )
    op.create_index("ix_audit_log_repository", "audit_log", ["repository", "id"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "manifest_activity",
        sa.Column("repository_id", sa.Integer, _repository_fk(), primary_key=True),
        sa.Column("digest", DIGEST, primary_key=True),
        sa.Column("pushed_by", sa.String(255), nullable=True),
        sa.Column("pull_count", sa.BigInteger, nullable=False),
        _timestamp("last_pulled_at", nullable=True),
    )
    _make_append_only("audit_log")
    _make_append_only("tag_history")


def _make_append_only(table: str) -> None:
    """The database itself refuses UPDATE and DELETE on the table: history cannot be rewritten by the app."""
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
        return
    op.execute(
        f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{table} is append-only'; END $$"
    )
    op.execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
    )


def downgrade() -> None:
    for table in ("manifest_activity", "audit_log", "tag_history", "creation_templates", "repository_settings"):
        op.drop_table(table)
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
        op.execute("DROP FUNCTION IF EXISTS tag_history_append_only()")
