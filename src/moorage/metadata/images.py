"""Queries about images (manifests) as a repository's owner sees them: activity, listings, usage."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from moorage.metadata import manifests as manifest_queries
from moorage.metadata.governance_schema import manifest_activity
from moorage.metadata.tables import blobs, manifest_references, manifests, repositories, repository_blobs, tags


@dataclass(frozen=True)
class ImageRow:
    id: int
    digest: str
    media_type: str
    artifact_type: str | None
    size: int
    payload: bytes
    pushed_at: datetime
    pushed_by: str | None
    pull_count: int
    last_pulled_at: datetime | None
    tags: tuple[str, ...]
    parents: tuple[str, ...] = ()
    """Digests of the repository's indexes that list this manifest."""


def _insert(connection: sa.Connection) -> Any:
    return (sqlite if connection.dialect.name == "sqlite" else postgresql).insert(manifest_activity)


def record_push(connection: sa.Connection, repository_id: int, digest: str, pushed_by: str) -> bool:
    """Remember who pushed the manifest first (a re-push of the same manifest keeps the first pusher);
    whether this was the first push."""
    statement = _insert(connection).values(
        repository_id=repository_id, digest=digest, pushed_by=pushed_by, pull_count=0
    )
    inserted = statement.on_conflict_do_nothing().returning(manifest_activity.c.digest)
    return connection.execute(inserted).first() is not None


def forget(connection: sa.Connection, repository_id: int, digest: str) -> None:
    connection.execute(
        sa.delete(manifest_activity).where(
            manifest_activity.c.repository_id == repository_id, manifest_activity.c.digest == digest
        )
    )


def add_pulls(connection: sa.Connection, pulls: Iterable[tuple[str, str, int, datetime]]) -> None:
    """Add counted pulls (repository, digest, count, last time) of manifests that still exist."""
    for repository, digest, count, last in pulls:
        repository_id = connection.execute(
            sa.select(repositories.c.id).where(repositories.c.name == repository)
        ).scalar()
        if repository_id is None:
            continue
        exists = connection.execute(
            sa.select(manifests.c.id).where(manifests.c.repository_id == repository_id, manifests.c.digest == digest)
        ).scalar()
        if exists is None:
            continue
        statement = _insert(connection).values(
            repository_id=repository_id, digest=digest, pushed_by=None, pull_count=count, last_pulled_at=last
        )
        current = manifest_activity.c.last_pulled_at
        statement = statement.on_conflict_do_update(
            index_elements=["repository_id", "digest"],
            set_={
                "pull_count": manifest_activity.c.pull_count + statement.excluded.pull_count,
                "last_pulled_at": sa.case(
                    (
                        sa.or_(current.is_(None), current < statement.excluded.last_pulled_at),
                        statement.excluded.last_pulled_at,
                    ),
                    else_=current,
                ),
            },
        )
        connection.execute(statement)


def list_images(
    connection: sa.Connection,
    repository_id: int,
    tagged: bool | None,
    newest_first: bool,
    after_id: int | None,
    limit: int,
    digests: list[str] | None = None,
) -> list[ImageRow]:
    """Manifests of the repository in push order (or newest first), after the cursor `after_id`."""
    has_tag = sa.exists().where(tags.c.repository_id == repository_id, tags.c.manifest_digest == manifests.c.digest)
    query = (
        sa.select(
            manifests.c.id,
            manifests.c.digest,
            manifests.c.media_type,
            manifests.c.artifact_type,
            manifests.c.size,
            manifests.c.payload,
            manifests.c.pushed_at,
            manifest_activity.c.pushed_by,
            manifest_activity.c.pull_count,
            manifest_activity.c.last_pulled_at,
        )
        .select_from(
            manifests.outerjoin(
                manifest_activity,
                sa.and_(
                    manifest_activity.c.repository_id == manifests.c.repository_id,
                    manifest_activity.c.digest == manifests.c.digest,
                ),
            )
        )
        .where(manifests.c.repository_id == repository_id)
        .order_by(manifests.c.id.desc() if newest_first else manifests.c.id)
        .limit(limit)
    )
    if tagged is True:
        query = query.where(has_tag)
    elif tagged is False:
        parent = manifests.alias("parent")
        listed = (
            sa.exists()
            .where(
                manifest_references.c.manifest_id == parent.c.id,
                parent.c.repository_id == repository_id,
                manifest_references.c.kind == "manifest",
                manifest_references.c.digest == manifests.c.digest,
            )
            .correlate(manifests)
        )
        query = query.where(~has_tag, ~listed)  # an index's untagged child is part of it, not a leftover
    if after_id is not None:
        query = query.where(manifests.c.id < after_id if newest_first else manifests.c.id > after_id)
    if digests is not None:
        query = query.where(manifests.c.digest.in_(digests))
    rows = list(connection.execute(query))
    tag_names: dict[str, list[str]] = {}
    if rows:
        tag_query = sa.select(tags.c.manifest_digest, tags.c.name).where(
            tags.c.repository_id == repository_id, tags.c.manifest_digest.in_([row.digest for row in rows])
        )
        for digest, name in connection.execute(tag_query):
            tag_names.setdefault(digest, []).append(name)
    parents = manifest_queries.index_parents(connection, repository_id, [row.digest for row in rows])
    return [
        ImageRow(
            row.id,
            row.digest,
            row.media_type,
            row.artifact_type,
            row.size,
            bytes(row.payload),
            row.pushed_at,
            row.pushed_by,
            int(row.pull_count or 0),
            row.last_pulled_at,
            tuple(sorted(tag_names.get(row.digest, []))),
            tuple(parents.get(row.digest, [])),
        )
        for row in rows
    ]


def manifest_payloads(
    connection: sa.Connection, repository_id: int, digests: list[str]
) -> dict[str, tuple[str, bytes]]:
    """Media type and bytes of the named manifests of the repository (children of indexes)."""
    if not digests:
        return {}
    query = sa.select(manifests.c.digest, manifests.c.media_type, manifests.c.payload).where(
        manifests.c.repository_id == repository_id, manifests.c.digest.in_(digests)
    )
    return {row.digest: (row.media_type, bytes(row.payload)) for row in connection.execute(query)}


# -- storage usage --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    repositories: int
    images: int
    logical_bytes: int
    """Sum over images of manifest bytes plus the blobs each references (shared layers counted per image)."""
    stored_bytes: int
    """Blobs linked to the repositories, each counted once, plus their manifest bytes."""
    exclusive_bytes: int
    """Blobs linked only to these repositories (what deleting them frees), plus their manifest bytes."""
    manifest_bytes: int


def _scope(name: str, is_namespace: bool) -> sa.ColumnElement[bool]:
    if is_namespace:
        return sa.or_(repositories.c.name == name, repositories.c.name.startswith(name + "/", autoescape=True))
    return repositories.c.name == name


def usage(connection: sa.Connection, name: str, is_namespace: bool) -> Usage:
    """Storage of one repository or of a namespace (every repository under `name/`), from the links themselves.

    One statement computes every figure, so they all come from one snapshot even while pushes go on.
    """
    ids = sa.select(repositories.c.id).where(_scope(name, is_namespace))
    linked = sa.select(repository_blobs.c.digest).where(repository_blobs.c.repository_id.in_(ids)).distinct().subquery()
    elsewhere = sa.exists().where(
        repository_blobs.c.digest == blobs.c.digest, repository_blobs.c.repository_id.not_in(ids)
    )

    def total(query: sa.Select[Any]) -> sa.ScalarSelect[Any]:
        return query.scalar_subquery()

    linked_size = sa.select(sa.func.coalesce(sa.func.sum(blobs.c.size), 0)).join(
        linked, linked.c.digest == blobs.c.digest
    )
    referenced = (
        sa.select(sa.func.coalesce(sa.func.sum(blobs.c.size), 0))
        .select_from(
            manifest_references.join(manifests, manifests.c.id == manifest_references.c.manifest_id).join(
                blobs, blobs.c.digest == manifest_references.c.digest
            )
        )
        .where(manifests.c.repository_id.in_(ids), manifest_references.c.kind == "blob")
    )
    in_manifests = manifests.c.repository_id.in_(ids)
    row = connection.execute(
        sa.select(
            total(sa.select(sa.func.count()).select_from(repositories).where(_scope(name, is_namespace))),
            total(sa.select(sa.func.count()).select_from(manifests).where(in_manifests)),
            total(sa.select(sa.func.coalesce(sa.func.sum(manifests.c.size), 0)).where(in_manifests)),
            total(linked_size),
            total(linked_size.where(~elsewhere)),
            total(referenced),
        )
    ).one()
    repository_count, images, manifest_bytes, stored, exclusive, referenced_bytes = (int(value) for value in row)
    return Usage(
        repositories=repository_count,
        images=images,
        logical_bytes=referenced_bytes + manifest_bytes,
        stored_bytes=stored + manifest_bytes,
        exclusive_bytes=exclusive + manifest_bytes,
        manifest_bytes=manifest_bytes,
    )
