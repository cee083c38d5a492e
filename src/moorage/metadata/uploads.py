"""Queries about upload sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from moorage.metadata.common import now
from moorage.metadata.tables import repositories, uploads


@dataclass(frozen=True)
class UploadRecord:
    id: str
    repository_id: int
    repository: str


def create(connection: sa.Connection, upload_id: str, repository_id: int) -> None:
    moment = now()
    connection.execute(
        sa.insert(uploads).values(id=upload_id, repository_id=repository_id, created_at=moment, updated_at=moment)
    )


def find(connection: sa.Connection, repository: str, upload_id: str) -> UploadRecord | None:
    query = (
        sa.select(uploads.c.id, uploads.c.repository_id, repositories.c.name)
        .join(repositories, repositories.c.id == uploads.c.repository_id)
        .where(uploads.c.id == upload_id, repositories.c.name == repository)
    )
    row = connection.execute(query).first()
    return UploadRecord(row.id, row.repository_id, row.name) if row else None


def delete(connection: sa.Connection, upload_id: str) -> bool:
    return connection.execute(sa.delete(uploads).where(uploads.c.id == upload_id)).rowcount > 0


@dataclass(frozen=True)
class HashCheckpoint:
    """The upload's running SHA-256 after its first `offset` bytes (domain/running_hash.py)."""

    offset: int
    state: bytes


def claim(connection: sa.Connection, upload_id: str, writer: str, until: datetime) -> bool:
    """Take the upload for one append or commit until `until`; False while another writer holds an
    unexpired claim (or the upload is gone).

    A claim taken over from a writer whose lease ran out forgets the hash checkpoint: that writer may
    still have written after saving it, so the bytes are hashed again at commit.
    """
    free = connection.execute(
        sa.update(uploads)
        .where(uploads.c.id == upload_id, uploads.c.writer.is_(None))
        .values(writer=writer, writer_until=until, updated_at=now())
    )
    if free.rowcount > 0:
        return True
    expired = connection.execute(
        sa.update(uploads)
        .where(uploads.c.id == upload_id, uploads.c.writer_until < now())
        .values(writer=writer, writer_until=until, updated_at=now(), hash_offset=None, hash_state=None)
    )
    return expired.rowcount > 0


def checkpoint(connection: sa.Connection, upload_id: str) -> HashCheckpoint | None:
    row = connection.execute(
        sa.select(uploads.c.hash_offset, uploads.c.hash_state).where(uploads.c.id == upload_id)
    ).first()
    if row is None or row.hash_offset is None or row.hash_state is None:
        return None
    return HashCheckpoint(int(row.hash_offset), bytes(row.hash_state))


def renew(connection: sa.Connection, upload_id: str, writer: str, until: datetime) -> bool:
    """Extend a claim, and the upload's life (the purge of abandoned uploads spares it); False if the
    claim was lost (taken over after it ran out, or the upload is gone)."""
    renewed = connection.execute(
        sa.update(uploads)
        .where(uploads.c.id == upload_id, uploads.c.writer == writer)
        .values(writer_until=until, updated_at=now())
    )
    return renewed.rowcount > 0


def release(connection: sa.Connection, upload_id: str, writer: str) -> bool:
    """Give the claim back, keeping the stored checkpoint; False if the claim had been lost."""
    return _release(connection, upload_id, writer, {})


def release_saving(connection: sa.Connection, upload_id: str, writer: str, saved: HashCheckpoint | None) -> bool:
    """Give the claim back with the hash where this writer left it (None: no usable hash); nothing is
    saved, and False returned, if the claim had been lost."""
    if saved is None:
        return _release(connection, upload_id, writer, {"hash_offset": None, "hash_state": None})
    return _release(connection, upload_id, writer, {"hash_offset": saved.offset, "hash_state": saved.state})


def _release(connection: sa.Connection, upload_id: str, writer: str, values: dict[str, object]) -> bool:
    released = connection.execute(
        sa.update(uploads)
        .where(uploads.c.id == upload_id, uploads.c.writer == writer)
        .values(writer=None, writer_until=None, updated_at=now(), **values)
    )
    return released.rowcount > 0
