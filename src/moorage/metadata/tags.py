"""Queries about tags."""

from __future__ import annotations

import sqlalchemy as sa

from moorage.metadata.common import lexical, now, upsert
from moorage.metadata.tables import tags


def point(connection: sa.Connection, repository_id: int, tag: str, digest: str) -> None:
    """Make the tag point to the manifest, creating or moving it."""
    upsert(
        connection,
        tags,
        {"repository_id": repository_id, "name": tag, "manifest_digest": digest, "updated_at": now()},
        keys=["repository_id", "name"],
        update=["manifest_digest", "updated_at"],
    )


def delete(connection: sa.Connection, repository_id: int, tag: str) -> bool:
    result = connection.execute(sa.delete(tags).where(tags.c.repository_id == repository_id, tags.c.name == tag))
    return result.rowcount > 0


def list_names(connection: sa.Connection, repository_id: int, after: str | None, limit: int | None) -> list[str]:
    """Tag names of the repository in lexical order, after `after`, at most `limit`."""
    name = lexical(connection, tags.c.name)
    query = sa.select(tags.c.name).where(tags.c.repository_id == repository_id).order_by(name)
    if after is not None:
        query = query.where(name > after)
    if limit is not None:
        query = query.limit(limit)
    return list(connection.execute(query).scalars())


def current(connection: sa.Connection, repository_id: int, tag: str) -> str | None:
    """The digest the tag points to now (call under `repositories.lock` to read-then-write safely)."""
    return connection.execute(
        sa.select(tags.c.manifest_digest).where(tags.c.repository_id == repository_id, tags.c.name == tag)
    ).scalar()


def pointing_to(connection: sa.Connection, repository_id: int, digest: str) -> list[str]:
    """The tags of the repository that point to the manifest."""
    query = sa.select(tags.c.name).where(tags.c.repository_id == repository_id, tags.c.manifest_digest == digest)
    return sorted(connection.execute(query).scalars())
