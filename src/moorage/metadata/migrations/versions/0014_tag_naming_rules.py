"""Tag naming rules: a repository's own (a settings column) and a namespace's (a table of their own).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("repository_settings") as batch:
        batch.add_column(sa.Column("tag_rules", sa.JSON, nullable=True))
    op.create_table(
        "namespace_tag_rules",
        sa.Column("namespace", sa.String(255), primary_key=True),
        sa.Column("rules", sa.JSON, nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("namespace_tag_rules")
    with op.batch_alter_table("repository_settings") as batch:
        batch.drop_column("tag_rules")
