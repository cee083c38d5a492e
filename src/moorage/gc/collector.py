"""The garbage collector: purge abandoned uploads, then sweep unreferenced blobs past the grace period.

It runs online. It never stops pushes: candidates are found without locks, and each batch is
removed in one short write transaction that locks the rows and re-checks them (see
metadata/collection.py and docs/gc.md for the invariant). One node at a time runs a real pass,
coordinated by a lease in the metadata store; a pass killed half-way leaves every batch either
done or untouched. A pass whose process is gone is seen at once (metadata/holders.py): its run
shows `interrupted` and the next pass takes its lease and finishes the work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from moorage.domain.digests import Digest
from moorage.metadata import collection, holders, maintenance
from moorage.metadata.common import now
from moorage.metadata.database import Database
from moorage.metadata.lifecycle_schema import gc_runs
from moorage.storage.blobstore import BlobStore

log = logging.getLogger("moorage.gc")

LEASE = "gc"
SCAN_PAGE = 5000
"""Blob rows read per scan query (a keyset page in digest order)."""


class CollectionBusy(Exception):
    """Another process or node holds the GC lease: a real pass is already running."""


@dataclass(frozen=True)
class CollectionReport:
    run_id: int
    dry_run: bool
    blobs_deleted: int
    bytes_freed: int
    uploads_purged: int
    duration_seconds: float
    started_at: datetime


class GarbageCollector:
    def __init__(
        self,
        database: Database,
        store: BlobStore,
        grace_period: timedelta,
        upload_max_age: timedelta,
        batch_size: int = 500,
        batch_pause: float = 0.0,
        holder: str | None = None,
        lease_ttl: timedelta = timedelta(minutes=5),
    ) -> None:
        self.database = database
        self.store = store
        self.grace_period = grace_period
        self.upload_max_age = upload_max_age
        self.batch_size = batch_size
        self.batch_pause = batch_pause
        """Seconds to sleep between batches: gentler on a busy store (and lets tests kill a pass mid-way)."""
        self.holder = holder or holders.new_holder("gc")
        self.lease_ttl = lease_ttl
        """How long a silent holder keeps the lease: a pass renews it after every batch."""

    def run(self, dry_run: bool = False) -> CollectionReport:
        """One pass. A dry run changes nothing and reports what a real pass would free now."""
        started = time.monotonic()
        started_at = now()
        self.interrupt_dead_runs()
        if not dry_run:
            with self.database.write() as connection:
                if not maintenance.acquire_lease(connection, LEASE, self.holder, self.lease_ttl):
                    raise CollectionBusy("another garbage collection pass is running")
        try:
            with self.database.write() as connection:
                run_id = maintenance.start_gc_run(connection, dry_run, self.holder)
            try:
                uploads = self._purge_uploads(dry_run)
                deleted, freed = self._sweep_blobs(dry_run, run_id)
            except BaseException:
                with self.database.write() as connection:
                    maintenance.update_gc_run(connection, run_id, status="failed", finished_at=now())
                raise
            duration = time.monotonic() - started
            with self.database.write() as connection:
                maintenance.update_gc_run(
                    connection,
                    run_id,
                    status="completed",
                    finished_at=now(),
                    blobs_deleted=deleted,
                    bytes_freed=freed,
                    uploads_purged=uploads,
                    duration_seconds=duration,
                )
        finally:
            if not dry_run:
                with self.database.write() as connection:
                    maintenance.release_lease(connection, LEASE, self.holder)
        log.info(
            "gc %s: %d blobs, %d bytes, %d uploads in %.2f s",
            "dry run" if dry_run else "pass",
            deleted,
            freed,
            uploads,
            duration,
        )
        return CollectionReport(run_id, dry_run, deleted, freed, uploads, duration, started_at)

    def interrupt_dead_runs(self) -> None:
        """Mark the runs of passes whose process is gone `interrupted` (a read unless there are some)."""
        with self.database.read() as connection:
            dead = maintenance.dead_gc_runs(connection)
        if dead:
            with self.database.write() as connection:
                maintenance.interrupt_runs(connection, gc_runs, dead)

    def runs(self, limit: int = 20) -> list[dict[str, object]]:
        """Recent passes, newest first; a pass that died with its process shows `interrupted`."""
        self.interrupt_dead_runs()
        with self.database.read() as connection:
            return maintenance.gc_run_list(connection, limit)

    def last_run_started(self) -> datetime | None:
        """When the last real pass started (the schedule's clock)."""
        with self.database.read() as connection:
            return maintenance.last_started(connection, gc_runs, dry_run=False)

    def totals(self) -> dict[str, float]:
        """Sums over every completed run (for metrics)."""
        with self.database.read() as connection:
            return maintenance.totals(connection)

    def _purge_uploads(self, dry_run: bool) -> int:
        older_than = now() - self.upload_max_age
        with self.database.read() as connection:
            idle = collection.abandoned_uploads(connection, older_than)
        if dry_run:
            return len(idle)
        purged = 0
        for upload_id in idle:
            with self.database.write() as connection:
                forgotten = collection.forget_upload(connection, upload_id, older_than)
            if forgotten:
                self.store.cancel_upload(upload_id)
                purged += 1
        return purged

    def _sweep_blobs(self, dry_run: bool, run_id: int) -> tuple[int, int]:
        older_than = now() - self.grace_period
        deleted = freed = 0
        if not dry_run:
            self._bury_leftovers()
        for batch in self._candidate_batches(older_than):
            if dry_run:
                deleted += len(batch)
                freed += sum(size for _digest, size in batch)
                continue
            with self.database.write() as connection:
                removed = collection.condemn(connection, [digest for digest, _ in batch], older_than)
            deleted += len(removed)
            freed += sum(size for _digest, size in removed)
            with self.database.write() as connection:
                collection.bury(connection, [digest for digest, _ in removed], self._remove_bytes)
                maintenance.update_gc_run(connection, run_id, blobs_deleted=deleted, bytes_freed=freed)
                if not maintenance.acquire_lease(connection, LEASE, self.holder, self.lease_ttl):
                    raise CollectionBusy("the garbage collection lease was lost")
            if self.batch_pause:
                time.sleep(self.batch_pause)
        return deleted, freed

    def _candidate_batches(self, older_than: datetime) -> Iterator[list[tuple[str, int]]]:
        """Collectable blobs (unlocked hints) in batches of `batch_size`, scanning every blob once."""
        pending: list[tuple[str, int]] = []
        after: str | None = ""
        while after is not None:
            with self.database.read() as connection:
                page, after = collection.scan(connection, older_than, after, SCAN_PAGE)
            pending += page
            while len(pending) >= self.batch_size or (after is None and pending):
                yield pending[: self.batch_size]
                pending = pending[self.batch_size :]

    def _bury_leftovers(self) -> None:
        """Delete the bytes a pass that died between its two phases condemned."""
        while True:
            with self.database.read() as connection:
                left = collection.tombstones(connection, self.batch_size)
            if not left:
                return
            with self.database.write() as connection:
                collection.bury(connection, left, self._remove_bytes)

    def _remove_bytes(self, digest: str) -> None:
        self.store.delete(Digest.parse(digest))
