"""Queries of lifecycle policies: stored documents, the images a policy judges, runs, expiry."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from moorage.metadata import collection, maintenance
from moorage.metadata import manifests as manifest_queries
from moorage.metadata.common import now, upsert
from moorage.metadata.lifecycle_schema import lifecycle_policies, lifecycle_runs
from moorage.metadata.tables import (
    blobs,
    manifest_references,
    manifests,
    repositories,
    tags,
)
from moorage.metadata.tables import metadata as schema


@dataclass(frozen=True)
class ImageRow:
    """One manifest as the lifecycle evaluation needs it (plain values; the service builds records)."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime
    last_pulled_at: datetime | None
    size: int
    index_parents: tuple[str, ...]
    subject: str | None


# -- policies ---------------------------------------------------------------------------------


def put_policy(connection: sa.Connection, scope: str, name: str, document: str) -> None:
    upsert(
        connection,
        lifecycle_policies,
        {"scope": scope, "name": name, "document": document, "updated_at": now()},
        keys=["scope", "name"],
        update=["document", "updated_at"],
    )


def get_policy(connection: sa.Connection, scope: str, name: str) -> str | None:
    query = sa.select(lifecycle_policies.c.document).where(
        lifecycle_policies.c.scope == scope, lifecycle_policies.c.name == name
    )
    return connection.execute(query).scalar()


def delete_policy(connection: sa.Connection, scope: str, name: str) -> bool:
    result = connection.execute(
        sa.delete(lifecycle_policies).where(lifecycle_policies.c.scope == scope, lifecycle_policies.c.name == name)
    )
    return result.rowcount > 0


def all_policies(connection: sa.Connection) -> list[tuple[str, str, str]]:
    """Every stored policy as (scope, name, document): the one place policies live."""
    query = sa.select(lifecycle_policies.c.scope, lifecycle_policies.c.name, lifecycle_policies.c.document)
    return [(row[0], row[1], row[2]) for row in connection.execute(query)]


def _governance_table(name: str, column: str) -> sa.Table | None:
    """A table of the governance issue, if that code is present (soft link: no import on this branch)."""
    if name not in schema.tables:
        try:
            importlib.import_module("moorage.metadata.governance_schema")
        except ImportError:
            return None
    table = schema.tables.get(name)
    return table if table is not None and column in table.c else None


# -- images -----------------------------------------------------------------------------------


def repository_names(connection: sa.Connection) -> list[str]:
    return list(connection.execute(sa.select(repositories.c.name).order_by(repositories.c.name)).scalars())


def images(connection: sa.Connection, repository_id: int) -> list[ImageRow]:
    """Every manifest of the repository with its tags, size, index parents and subject."""
    columns = [manifests.c.id, manifests.c.digest, manifests.c.pushed_at, manifests.c.size, manifests.c.subject_digest]
    query = sa.select(*columns).where(manifests.c.repository_id == repository_id)
    activity = _governance_table("manifest_activity", "last_pulled_at")  # pulls, recorded by governance
    if activity is not None:
        query = query.add_columns(activity.c.last_pulled_at).outerjoin(
            activity,
            sa.and_(activity.c.repository_id == manifests.c.repository_id, activity.c.digest == manifests.c.digest),
        )
    last_pulled = activity is not None
    rows = connection.execute(query).all()
    tag_rows = connection.execute(
        sa.select(tags.c.manifest_digest, tags.c.name).where(tags.c.repository_id == repository_id)
    ).all()
    tags_of: dict[str, list[str]] = {}
    for digest, name in tag_rows:
        tags_of.setdefault(digest, []).append(name)
    in_repository = sa.select(manifests.c.id).where(manifests.c.repository_id == repository_id)
    blob_sizes = connection.execute(
        sa.select(manifest_references.c.manifest_id, sa.func.sum(blobs.c.size))
        .join(blobs, blobs.c.digest == manifest_references.c.digest)
        .where(manifest_references.c.kind == "blob", manifest_references.c.manifest_id.in_(in_repository))
        .group_by(manifest_references.c.manifest_id)
    ).all()
    size_of = {manifest_id: int(total or 0) for manifest_id, total in blob_sizes}
    digest_of = {row[0]: row[1] for row in rows}
    child_rows = connection.execute(
        sa.select(manifest_references.c.manifest_id, manifest_references.c.digest).where(
            manifest_references.c.kind == "manifest", manifest_references.c.manifest_id.in_(in_repository)
        )
    ).all()
    parents_of: dict[str, list[str]] = {}
    for parent_id, child in child_rows:
        parents_of.setdefault(child, []).append(digest_of[parent_id])
    return [
        ImageRow(
            digest=row[1],
            tags=tuple(sorted(tags_of.get(row[1], ()))),
            pushed_at=_aware(row[2]),
            last_pulled_at=_aware(row[5]) if last_pulled and row[5] is not None else None,
            size=int(row[3]) + size_of.get(row[0], 0),
            index_parents=tuple(sorted(parents_of.get(row[1], ()))),
            subject=row[4],
        )
        for row in rows
    ]


def expire(
    connection: sa.Connection,
    repository_id: int,
    digest: str,
    expected_tags: tuple[str, ...],
    pushed_before: datetime,
    before_delete: Callable[[], None] = lambda: None,
) -> list[str] | None:
    """Delete an expired manifest if everything that keeps an image still lets it go.

    The evaluation was a plan made earlier; this is the check at the moment of deleting, inside the
    deleting transaction with the repository locked (the lock every manifest write takes first, so an
    index PUT listing this image waits for us or we see its row). It raises `Kept` when the image:
    carries other tags than it was judged with; is listed by an index of the repository; or was
    pushed, or pushed again unchanged, after `pushed_before` (the grace period). Returns the blob
    digests it referenced (now released), or None when the image is already gone. `before_delete`
    runs just before its rows go.
    """
    row = connection.execute(
        sa.select(manifests.c.id, manifests.c.pushed_at, manifests.c.touched_at)
        .where(manifests.c.repository_id == repository_id, manifests.c.digest == digest)
        .with_for_update()
    ).first()
    if row is None:
        return None
    if max(_aware(row[1]), _aware(row[2] or row[1])) > pushed_before:
        raise Kept(digest, "pushed (or pushed again) less than the grace period ago")
    current = connection.execute(
        sa.select(tags.c.name).where(tags.c.repository_id == repository_id, tags.c.manifest_digest == digest)
    ).scalars()
    if tuple(sorted(current)) != tuple(sorted(expected_tags)):
        raise Kept(digest, "re-tagged since it was judged")
    parents = manifest_queries.index_parents(connection, repository_id, [digest]).get(digest)
    if parents:
        raise Kept(digest, f"listed by the index {parents[0]}")
    released = list(
        connection.execute(
            sa.select(manifest_references.c.digest).where(
                manifest_references.c.manifest_id == row[0], manifest_references.c.kind == "blob"
            )
        ).scalars()
    )
    collection.touch(connection, released)  # the grace period counts from the release
    before_delete()
    connection.execute(sa.delete(tags).where(tags.c.repository_id == repository_id, tags.c.manifest_digest == digest))
    connection.execute(sa.delete(manifest_references).where(manifest_references.c.manifest_id == row[0]))
    connection.execute(sa.delete(manifests).where(manifests.c.id == row[0]))
    return released


class Kept(Exception):
    """Something that keeps the image appeared since it was judged; it is left alone this run."""

    def __init__(self, digest: str, reason: str) -> None:
        super().__init__(f"{digest}: {reason}")
        self.digest = digest
        self.reason = reason


def unreferenced_sizes(connection: sa.Connection, digests: set[str]) -> dict[str, int]:
    """Those blobs that no manifest references any more, with their sizes (what GC will free)."""
    if not digests:
        return {}
    referenced = sa.exists().where(manifest_references.c.digest == blobs.c.digest)
    query = sa.select(blobs.c.digest, blobs.c.size).where(blobs.c.digest.in_(sorted(digests)), ~referenced)
    return {row.digest: int(row.size) for row in connection.execute(query)}


# -- runs -------------------------------------------------------------------------------------


def start_run(connection: sa.Connection, trigger: str = "schedule", started_by: str | None = None) -> int:
    """Record a new run; the caller holds the lease, so any run still marked running died."""
    connection.execute(
        sa.update(lifecycle_runs).where(lifecycle_runs.c.status == "running").values(status="interrupted")
    )
    result = connection.execute(
        sa.insert(lifecycle_runs).values(
            started_at=now(),
            status="running",
            repositories=0,
            images_expired=0,
            bytes_freed=0,
            expired=[],
            trigger=trigger,
            started_by=started_by,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def record_progress(
    connection: sa.Connection, run_id: int, expired: list[dict[str, Any]], bytes_freed: int, repositories: int = 0
) -> None:
    """Add what one transaction expired to the run, in that transaction: a run killed midway stays true."""
    if not expired and not bytes_freed and not repositories:
        return
    before = connection.execute(sa.select(lifecycle_runs.c.expired).where(lifecycle_runs.c.id == run_id)).scalar()
    values: dict[str, Any] = {
        "images_expired": lifecycle_runs.c.images_expired + len(expired),
        "bytes_freed": lifecycle_runs.c.bytes_freed + bytes_freed,
        "repositories": lifecycle_runs.c.repositories + repositories,
    }
    if expired:
        values["expired"] = [*(before or []), *expired]
    connection.execute(sa.update(lifecycle_runs).where(lifecycle_runs.c.id == run_id).values(**values))


def finish_run(connection: sa.Connection, run_id: int, **values: Any) -> None:
    connection.execute(
        sa.update(lifecycle_runs).where(lifecycle_runs.c.id == run_id).values(finished_at=now(), **values)
    )


def runs(connection: sa.Connection, limit: int) -> list[dict[str, Any]]:
    query = sa.select(lifecycle_runs).order_by(lifecycle_runs.c.id.desc()).limit(limit)
    return [maintenance.with_aware_times(row._mapping) for row in connection.execute(query)]


def run(connection: sa.Connection, run_id: int) -> dict[str, Any] | None:
    row = connection.execute(sa.select(lifecycle_runs).where(lifecycle_runs.c.id == run_id)).first()
    return maintenance.with_aware_times(row._mapping) if row else None


def last_run_started(connection: sa.Connection) -> datetime | None:
    return maintenance.last_started(connection, lifecycle_runs)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
