"""Queries of garbage collection: unreferenced blobs, their locked re-check and removal, old uploads.

The invariant they implement (docs/gc.md): a blob row is removed only inside a write transaction
that holds the row's lock (PostgreSQL `FOR UPDATE`; SQLite's single writer lock) and re-checks,
after taking it, that no manifest references the blob and that neither the blob (`touched_at`,
`created_at`) nor any repository link to it is younger than the grace period. The same
transaction leaves a tombstone; the bytes go in a second transaction that holds the tombstone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from moorage.metadata.common import insert_ignoring_duplicates, now
from moorage.metadata.lifecycle_schema import gc_tombstones
from moorage.metadata.tables import (
    blobs,
    manifest_references,
    manifests,
    repository_blobs,
    uploads,
)


def _old(older_than: datetime) -> sa.ColumnElement[bool]:
    """Blobs neither created nor touched (uploaded again, mounted, released) since `older_than`."""
    return sa.and_(
        blobs.c.created_at < older_than, sa.or_(blobs.c.touched_at.is_(None), blobs.c.touched_at < older_than)
    )


def _unreferenced(connection: sa.Connection, rows: list[Any], older_than: datetime) -> list[tuple[str, int]]:
    """Of these (digest, size) rows, those no manifest references and no repository linked lately.

    IN-lists bounded by the rows' digest range as well, so both SQLite and PostgreSQL read only
    that slice of the reference and link indexes, whatever their statistics say.
    """
    digests = sorted(row[0] for row in rows)
    if not digests:
        return []
    low, high = digests[0], digests[-1]
    referenced = set(
        connection.execute(
            sa.select(manifest_references.c.digest)
            .where(manifest_references.c.digest.between(low, high), manifest_references.c.digest.in_(digests))
            .distinct()
        ).scalars()
    )
    recently_linked = set(
        connection.execute(
            sa.select(repository_blobs.c.digest)
            .where(
                repository_blobs.c.digest.between(low, high),
                repository_blobs.c.digest.in_(digests),
                repository_blobs.c.created_at >= older_than,
            )
            .distinct()
        ).scalars()
    )
    return [(row[0], int(row[1])) for row in rows if row[0] not in referenced and row[0] not in recently_linked]


def scan(
    connection: sa.Connection, older_than: datetime, after: str, limit: int
) -> tuple[list[tuple[str, int]], str | None]:
    """One slice of up to `limit` blobs in digest order after `after`: the collectable ones (a hint,
    no locks) and the last digest of the slice (None at the end).

    The slice is bounded on both sides and so is every index the anti-join reads, so each query
    costs the same wherever the slice lies and a full scan is linear in the number of blobs.
    """
    upto = connection.execute(
        sa.select(blobs.c.digest).where(blobs.c.digest > after).order_by(blobs.c.digest).offset(limit - 1).limit(1)
    ).scalar()
    if upto is None:
        upto = connection.execute(sa.select(sa.func.max(blobs.c.digest)).where(blobs.c.digest > after)).scalar()
        if upto is None:
            return [], None
    referenced = sa.exists().where(
        manifest_references.c.digest == blobs.c.digest,
        manifest_references.c.digest > after,
        manifest_references.c.digest <= upto,
    )
    recently_linked = sa.exists().where(
        repository_blobs.c.digest == blobs.c.digest,
        repository_blobs.c.digest > after,
        repository_blobs.c.digest <= upto,
        repository_blobs.c.created_at >= older_than,
    )
    query = sa.select(blobs.c.digest, blobs.c.size).where(
        blobs.c.digest > after, blobs.c.digest <= upto, _old(older_than), ~referenced, ~recently_linked
    )
    return [(row[0], int(row[1])) for row in connection.execute(query.order_by(blobs.c.digest))], str(upto)


def condemn(connection: sa.Connection, digests: list[str], older_than: datetime) -> list[tuple[str, int]]:
    """Phase one, in the caller's write transaction: lock, re-check, tombstone, remove the rows.

    After this commits no repository links the blobs any more, so no manifest can reference them,
    and their bytes are only waiting for `bury`.
    """
    if not digests:
        return []
    ordered = sorted(digests)
    lock = sa.select(blobs.c.digest, blobs.c.size).where(blobs.c.digest.in_(ordered), _old(older_than))
    # FOR UPDATE waits for writers holding these rows and re-checks the age on their latest
    # versions; the reference lookups that follow are new statements, so under READ COMMITTED
    # they see what those writers committed.
    locked = connection.execute(lock.order_by(blobs.c.digest).with_for_update()).all()
    confirmed = _unreferenced(connection, list(locked), older_than)
    if not confirmed:
        return []
    gone = [digest for digest, _size in confirmed]
    insert_ignoring_duplicates(connection, gc_tombstones, [{"digest": d, "created_at": now()} for d in gone])
    connection.execute(sa.delete(repository_blobs).where(repository_blobs.c.digest.in_(gone)))
    connection.execute(sa.delete(blobs).where(blobs.c.digest.in_(gone)))
    return confirmed


def bury(connection: sa.Connection, digests: list[str], remove_bytes: Callable[[str], None]) -> int:
    """Phase two, in the caller's write transaction: delete the bytes of tombstoned blobs, then the tombstones.

    The tombstone rows stay locked while the bytes go, so an upload of the same digest (which
    clears a tombstone itself before storing its bytes, see `clear_for_commit`) cannot interleave.
    """
    if not digests:
        return 0
    ordered = sorted(digests)
    lock = sa.select(gc_tombstones.c.digest).where(gc_tombstones.c.digest.in_(ordered))
    present = list(connection.execute(lock.order_by(gc_tombstones.c.digest).with_for_update()).scalars())
    for digest in present:
        remove_bytes(digest)
    connection.execute(sa.delete(gc_tombstones).where(gc_tombstones.c.digest.in_(present)))
    return len(present)


def tombstones(connection: sa.Connection, limit: int) -> list[str]:
    """Tombstones left by a pass that died between its two phases."""
    query = sa.select(gc_tombstones.c.digest).order_by(gc_tombstones.c.digest).limit(limit)
    return list(connection.execute(query).scalars())


def clear_for_commit(connection: sa.Connection, digest: str, remove_bytes: Callable[[str], None]) -> None:
    """Before an upload stores a blob's bytes: restart its grace clock and settle any tombstone.

    A sweep holding the row makes this wait until it is done. If the blob was condemned and its
    old bytes are still there, they are deleted here, so the upload's bytes that follow are never
    deleted by the pass's second phase.
    """
    touch(connection, [digest])
    lock = sa.select(gc_tombstones.c.digest).where(gc_tombstones.c.digest == digest).with_for_update()
    if connection.execute(lock).first() is not None:
        remove_bytes(digest)
        connection.execute(sa.delete(gc_tombstones).where(gc_tombstones.c.digest == digest))


def touch(connection: sa.Connection, digests: list[str]) -> int:
    """Restart the grace period of blobs (upload commit, mount, release); how many rows exist."""
    if not digests:
        return 0
    result = connection.execute(sa.update(blobs).where(blobs.c.digest.in_(sorted(digests))).values(touched_at=now()))
    return int(result.rowcount)


def release_repository(connection: sa.Connection, repository_id: int) -> None:
    """Restart the grace clock of every blob the repository's manifests reference.

    Call it in the transaction that deletes the repository (its manifests, references and links go
    by ON DELETE CASCADE), so that its blobs stay for a grace period after the release, as a
    deleted manifest's do.
    """
    referenced = (
        sa.select(manifest_references.c.digest)
        .join(manifests, manifests.c.id == manifest_references.c.manifest_id)
        .where(manifests.c.repository_id == repository_id, manifest_references.c.kind == "blob")
    )
    connection.execute(sa.update(blobs).where(blobs.c.digest.in_(referenced)).values(touched_at=now()))


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
    result = connection.execute(sa.delete(uploads).where(uploads.c.id == upload_id, uploads.c.updated_at < older_than))
    return result.rowcount > 0
