"""Queries about repositories."""

from __future__ import annotations

import sqlalchemy as sa

from moorage.metadata.common import insert_ignoring_duplicates, lexical, now
from moorage.metadata.tables import repositories


def find_id(connection: sa.Connection, name: str) -> int | None:
    return connection.execute(sa.select(repositories.c.id).where(repositories.c.name == name)).scalar()


def ensure(connection: sa.Connection, name: str) -> int:
    """The id of the repository, created if it does not exist yet (safe when racing)."""
    repository_id = find_id(connection, name)
    if repository_id is None:
        insert_ignoring_duplicates(connection, repositories, [{"name": name, "created_at": now()}])
        repository_id = find_id(connection, name)
    assert repository_id is not None
    return repository_id


def list_names(connection: sa.Connection, after: str | None, limit: int | None) -> list[str]:
    """Repository names in lexical order, after `after`, at most `limit`."""
    name = lexical(connection, repositories.c.name)
    query = sa.select(repositories.c.name).order_by(name)
    if after is not None:
        query = query.where(name > after)
    if limit is not None:
        query = query.limit(limit)
    return list(connection.execute(query).scalars())


def lock(connection: sa.Connection, repository_id: int) -> None:
    """Serialise tag changes of one repository until the transaction ends.

    PostgreSQL takes a row lock; SQLite needs none (a write transaction there holds the database lock).
    """
    if connection.dialect.name != "sqlite":
        connection.execute(sa.select(repositories.c.id).where(repositories.c.id == repository_id).with_for_update())


def delete(connection: sa.Connection, repository_id: int) -> None:
    """Delete the repository; its manifests, tags, blob links and uploads go with it (ON DELETE CASCADE)."""
    connection.execute(sa.delete(repositories).where(repositories.c.id == repository_id))
