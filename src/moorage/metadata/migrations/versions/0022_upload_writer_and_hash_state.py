"""Uploads record who is writing them and the running hash where the last chunk left it.

`writer` and `writer_until` are a lease: one append (or the commit) at a time per upload, across
processes and nodes, so bytes are never written into an upload while it is being verified and
committed, and a saved hash state always describes the bytes staged. `hash_offset` and `hash_state`
are the SHA-256 state after `hash_offset` bytes (domain/running_hash.py): any node continues the
hash instead of reading the staged bytes back at commit. Nullable columns only: nodes of the
previous version keep running on this schema and simply never use them (docs/deployment.md).

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("writer", sa.String(36), nullable=True))
        batch.add_column(sa.Column("writer_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("hash_offset", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("hash_state", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("hash_state")
        batch.drop_column("hash_offset")
        batch.drop_column("writer_until")
        batch.drop_column("writer")
