"""Queries about upload sessions."""

from __future__ import annotations

from dataclasses import dataclass

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


def touch(connection: sa.Connection, upload_id: str) -> None:
    connection.execute(sa.update(uploads).where(uploads.c.id == upload_id).values(updated_at=now()))


def delete(connection: sa.Connection, upload_id: str) -> bool:
    return connection.execute(sa.delete(uploads).where(uploads.c.id == upload_id)).rowcount > 0
