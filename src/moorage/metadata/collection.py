"""Queries of garbage collection: unreferenced blobs, their locked re-check and removal, old uploads.

The invariant they implement (docs/gc.md): a blob row is removed only inside a write transaction
that holds the row's lock (PostgreSQL `FOR UPDATE`; SQLite's single writer lock) and re-checks,
after taking it, that no manifest references the blob and that neither the blob (`touched_at`,
`created_at`) nor any repository link to it is younger than the grace period.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa

from moorage.metadata.common import now
from moorage.metadata.tables import blobs, manifest_references, repository_blobs, uploads


def _collectable(older_than: datetime) -> sa.ColumnElement[bool]:
    referenced = sa.exists().where(manifest_references.c.digest == blobs.c.digest)
    recently_linked = sa.exists().where(
        repository_blobs.c.digest == blobs.c.digest, repository_blobs.c.created_at >= older_than
    )
    return sa.and_(
        blobs.c.created_at < older_than,
        sa.or_(blobs.c.touched_at.is_(None), blobs.c.touched_at < older_than),
        ~referenced,
        ~recently_linked,
    )


def candidates(connection: sa.Connection, older_than: datetime, after: str, limit: int) -> list[tuple[str, int]]:
    """Unreferenced blobs past the grace period, in digest order after `after` (no locks: a hint)."""
    query = (
        sa.select(blobs.c.digest, blobs.c.size)
        .where(blobs.c.digest > after, _collectable(older_than))
        .order_by(blobs.c.digest)
        .limit(limit)
    )
    return [(row[0], int(row[1])) for row in connection.execute(query)]


def sweep(
    connection: sa.Connection, digests: list[str], older_than: datetime, remove_bytes: Callable[[str], None]
) -> list[tuple[str, int]]:
    """In the caller's write transaction: lock, re-check, remove bytes, then rows; what was removed.

    The bytes go while the rows are still locked, so an upload or mount of the same digest,
    which touches the row first, waits for this transaction and then finds the blob gone.
    """
    if not digests:
        return []
    ordered = sorted(digests)
    connection.execute(sa.select(blobs.c.digest).where(blobs.c.digest.in_(ordered)).order_by(blobs.c.digest).with_for_update())
    # A new statement: under READ COMMITTED it sees what writers we waited for committed.
    confirmed = [
        (row[0], int(row[1]))
        for row in connection.execute(
            sa.select(blobs.c.digest, blobs.c.size).where(blobs.c.digest.in_(ordered), _collectable(older_than))
        )
    ]
    if not confirmed:
        return []
    for digest, _size in confirmed:
        remove_bytes(digest)
    gone = [digest for digest, _size in confirmed]
    connection.execute(sa.delete(repository_blobs).where(repository_blobs.c.digest.in_(gone)))
    connection.execute(sa.delete(blobs).where(blobs.c.digest.in_(gone)))
    return confirmed


def touch(connection: sa.Connection, digests: list[str]) -> int:
    """Restart the grace period of blobs (upload commit, mount, release); how many rows exist."""
    if not digests:
        return 0
    result = connection.execute(sa.update(blobs).where(blobs.c.digest.in_(sorted(digests))).values(touched_at=now()))
    return int(result.rowcount)


def lock_shared(connection: sa.Connection, digests: list[str]) -> None:
    """Share-lock blob rows a manifest is about to reference, so a sweep waits for the manifest."""
    if digests:
        query = sa.select(blobs.c.digest).where(blobs.c.digest.in_(sorted(digests))).order_by(blobs.c.digest)
        connection.execute(query.with_for_update(read=True))


def abandoned_uploads(connection: sa.Connection, older_than: datetime) -> list[str]:
    """Upload sessions with no activity since `older_than`."""
    query = sa.select(uploads.c.id).where(uploads.c.updated_at < older_than).order_by(uploads.c.id)
    return list(connection.execute(query).scalars())


def forget_upload(connection: sa.Connection, upload_id: str, older_than: datetime) -> bool:
    """Delete the upload's row if it is still idle (an append may have revived it meanwhile)."""
    result = connection.execute(
        sa.delete(uploads).where(uploads.c.id == upload_id, uploads.c.updated_at < older_than)
    )
    return result.rowcount > 0
