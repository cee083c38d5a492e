"""Queries about blobs and which repositories may read them."""

from __future__ import annotations

import sqlalchemy as sa

from moorage.metadata.common import PreparedQuery, insert_ignoring_duplicates, now
from moorage.metadata.tables import blobs, repositories, repository_blobs

_SIZE_IN_REPOSITORY = PreparedQuery(
    sa.select(blobs.c.size)
    .select_from(
        repository_blobs.join(repositories, repositories.c.id == repository_blobs.c.repository_id).join(
            blobs, blobs.c.digest == repository_blobs.c.digest
        )
    )
    .where(repositories.c.name == sa.bindparam("repository"), repository_blobs.c.digest == sa.bindparam("digest"))
)


def size_in_repository(connection: sa.Connection, repository: str, digest: str) -> int | None:
    """The blob's size if the repository links it, else None (a digest alone is no capability)."""
    row = _SIZE_IN_REPOSITORY.first(connection, repository=repository, digest=digest)
    return int(row[0]) if row else None


def lock_link(connection: sa.Connection, repository: str, digest: str) -> bool:
    """Whether the repository links the blob, share-locking that link until the transaction ends.

    A mount checks its source this way: the source cannot unlink the blob while the mount links it.
    SQLite needs no lock (a write transaction there holds the database lock).
    """
    query = (
        sa.select(repository_blobs.c.digest)
        .join(repositories, repositories.c.id == repository_blobs.c.repository_id)
        .where(repositories.c.name == repository, repository_blobs.c.digest == digest)
    )
    if connection.dialect.name != "sqlite":
        query = query.with_for_update(read=True, of=repository_blobs)
    return connection.execute(query).first() is not None


def holders(connection: sa.Connection, digest: str, first: str, limit: int) -> list[str]:
    """Names of up to `limit` repositories linking the blob, `first` ahead of the others if it does."""
    query = (
        sa.select(repositories.c.name)
        .join(repository_blobs, repository_blobs.c.repository_id == repositories.c.id)
        .where(repository_blobs.c.digest == digest)
        .order_by(sa.case((repositories.c.name == first, 0), else_=1), repositories.c.id)
        .limit(limit)
    )
    return list(connection.execute(query).scalars())


def size(connection: sa.Connection, digest: str) -> int | None:
    return connection.execute(sa.select(blobs.c.size).where(blobs.c.digest == digest)).scalar()


def record(connection: sa.Connection, digest: str, size: int) -> None:
    insert_ignoring_duplicates(connection, blobs, [{"digest": digest, "size": size, "created_at": now()}])


def link(connection: sa.Connection, repository_id: int, digest: str) -> None:
    insert_ignoring_duplicates(
        connection, repository_blobs, [{"repository_id": repository_id, "digest": digest, "created_at": now()}]
    )


def unlink(connection: sa.Connection, repository_id: int, digest: str) -> bool:
    result = connection.execute(
        sa.delete(repository_blobs).where(
            repository_blobs.c.repository_id == repository_id, repository_blobs.c.digest == digest
        )
    )
    return result.rowcount > 0


def linked_sizes(connection: sa.Connection, repository_id: int, digests: list[str]) -> dict[str, int]:
    """The sizes of those of `digests` the repository links."""
    if not digests:
        return {}
    query = (
        sa.select(blobs.c.digest, blobs.c.size)
        .join(repository_blobs, repository_blobs.c.digest == blobs.c.digest)
        .where(repository_blobs.c.repository_id == repository_id, repository_blobs.c.digest.in_(digests))
    )
    return {row.digest: row.size for row in connection.execute(query)}
