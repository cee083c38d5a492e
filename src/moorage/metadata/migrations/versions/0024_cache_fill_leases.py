"""Pull-through cache: a lease per blob being filled, so processes and nodes fetch it once.

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cache_fill_leases",
        sa.Column("repository", sa.String(255), primary_key=True),
        sa.Column("digest", sa.String(140), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cache_fill_leases")
