"""Counts the metrics read at scrape time: what the blob store holds, open uploads, failed runs.

Every process and node answers these the same, from the one source of truth; each is a single
aggregate query (an index-only count or a sum over `blobs`), cheap at a scrape interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from moorage.metadata.jobs_schema import jobs
from moorage.metadata.lifecycle_schema import gc_runs, lifecycle_runs
from moorage.metadata.tables import blobs, manifests, repositories, uploads


@dataclass(frozen=True)
class RegistryStats:
    blob_bytes: int
    blobs: int
    manifests: int
    repositories: int
    uploads_in_progress: int
    gc_runs_failed: int
    lifecycle_runs_failed: int
    jobs_queued: int
    """Background jobs (scans…) waiting or running: a backlog that grows means workers cannot keep up."""


def registry_stats(connection: sa.Connection) -> RegistryStats:
    stored = connection.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(blobs.c.size), 0))).one()

    def count(table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one())

    return RegistryStats(
        blob_bytes=int(stored[1]),
        blobs=int(stored[0]),
        manifests=count(manifests),
        repositories=count(repositories),
        uploads_in_progress=count(uploads),
        gc_runs_failed=count(gc_runs, gc_runs.c.status == "failed"),
        lifecycle_runs_failed=count(lifecycle_runs, lifecycle_runs.c.status == "failed"),
        jobs_queued=count(jobs, jobs.c.status.in_(("pending", "running"))),
    )
