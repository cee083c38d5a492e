"""When a manifest was last pushed, even unchanged; who started a lifecycle run (issue 12).

A multi-arch push PUTs platform images that may already exist, then the index; lifecycle's grace
period counts from the latest such PUT so an image about to be listed is not expired in between.
A lifecycle run records whether the schedule or a person started it, and who.

Revision ID: 0010
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("manifests") as batch:
        batch.add_column(sa.Column("touched_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("lifecycle_runs") as batch:
        batch.add_column(sa.Column("trigger", sa.String(16), nullable=True))
        batch.add_column(sa.Column("started_by", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lifecycle_runs") as batch:
        batch.drop_column("started_by")
        batch.drop_column("trigger")
    with op.batch_alter_table("manifests") as batch:
        batch.drop_column("touched_at")
