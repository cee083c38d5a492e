"""The audit log becomes a hash chain (issue 12): each entry carries its hash and its predecessor's.

Entries written before this migration are chained here, in id order, exactly as new ones are
(`moorage.domain.audit_chain`): they are as tamper-evident from now on as later entries, and no
more than that (a change made before the upgrade cannot be detected). The append-only triggers
are lifted for the length of this one transaction to write the two new columns.

Revision ID: 0012
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from moorage.metadata.audit_chain import chain_existing

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(64), nullable=True))
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    else:
        # A namespace-wide target is NAMESPACE/*: two characters longer than the longest name.
        op.alter_column("audit_log", "target", type_=sa.String(512))
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    chain_existing(op.get_bind())
    if sqlite:
        op.execute(
            "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )
    else:
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


def downgrade() -> None:
    op.drop_table("audit_chain_head")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
