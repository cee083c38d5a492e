"""Signing keys encrypted at rest, and retired keys (security review: secrets at rest, key retirement).

The encryption of existing plaintext keys is not done here: it needs the secret key, which only
the start-up code has (moorage.startup seals every key still in `private_pem`).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("signing_keys") as batch:
        batch.alter_column("private_pem", existing_type=sa.Text, nullable=True)
        batch.add_column(sa.Column("private_key_encrypted", sa.Text, nullable=True))
        batch.add_column(sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Sealed keys cannot go back to plaintext without the secret key: they are dropped, and the
    # older version creates a new signing key at its next start (outstanding tokens stop working).
    op.execute(sa.text("DELETE FROM signing_keys WHERE private_pem IS NULL"))
    with op.batch_alter_table("signing_keys") as batch:
        batch.drop_column("retired_at")
        batch.drop_column("private_key_encrypted")
        batch.alter_column("private_pem", existing_type=sa.Text, nullable=False)
