"""Queries of background maintenance: leases that let one node at a time run a job, and run records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from moorage.metadata import holders
from moorage.metadata.common import insert_ignoring_duplicates, now
from moorage.metadata.lifecycle_schema import (
    gc_runs,
    lifecycle_runs,
    maintenance_leases,
)


def acquire_lease(connection: sa.Connection, name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew the lease `name` for `holder` unless another live holder has it.

    A holder is live until its lease expires, or until it is seen to be dead (holders.is_dead).
    """
    moment = now()
    insert_ignoring_duplicates(
        connection, maintenance_leases, [{"name": name, "holder": holder, "expires_at": moment + ttl}]
    )
    takeable = [maintenance_leases.c.holder == holder, maintenance_leases.c.expires_at < moment]
    current = lease_holder(connection, name)
    if current is not None and current != holder and holders.is_dead(current):
        # Conditional on the dead holder: of two processes taking over at once, one wins.
        takeable.append(maintenance_leases.c.holder == current)
    result = connection.execute(
        sa.update(maintenance_leases)
        .where(maintenance_leases.c.name == name, sa.or_(*takeable))
        .values(holder=holder, expires_at=moment + ttl)
    )
    return result.rowcount > 0


def lease_holder(connection: sa.Connection, name: str) -> str | None:
    query = sa.select(maintenance_leases.c.holder).where(maintenance_leases.c.name == name)
    return connection.execute(query).scalar()


def dead_gc_runs(connection: sa.Connection) -> list[int]:
    """GC runs still marked `running` whose holder (named on the run) is gone."""
    query = sa.select(gc_runs.c.id, gc_runs.c.holder).where(gc_runs.c.status == "running")
    return [run_id for run_id, holder in connection.execute(query) if holder and holders.is_dead(holder)]


def dead_lifecycle_runs(connection: sa.Connection, lease: str) -> list[int]:
    """Lifecycle runs still marked `running` that died with their process.

    A lifecycle run is recorded in the transaction that takes the lease, and the lease is released
    only after the run is finished: a running run whose lease is gone, or held by a dead process,
    is dead.
    """
    running = list(connection.execute(sa.select(lifecycle_runs.c.id).where(lifecycle_runs.c.status == "running")))
    if not running:
        return []
    holder = lease_holder(connection, lease)
    return [run_id for (run_id,) in running] if holder is None or holders.is_dead(holder) else []


def interrupt_runs(connection: sa.Connection, table: sa.Table, run_ids: list[int]) -> None:
    """Mark runs found dead as `interrupted`, unless they finished meanwhile."""
    connection.execute(
        sa.update(table).where(table.c.id.in_(run_ids), table.c.status == "running").values(status="interrupted")
    )


def release_lease(connection: sa.Connection, name: str, holder: str) -> None:
    connection.execute(
        sa.delete(maintenance_leases).where(maintenance_leases.c.name == name, maintenance_leases.c.holder == holder)
    )


# -- garbage collection runs -----------------------------------------------------------------


def start_gc_run(connection: sa.Connection, dry_run: bool, holder: str) -> int:
    if not dry_run:
        # We hold the lease, so any other run still marked running died with its process.
        connection.execute(
            sa.update(gc_runs)
            .where(gc_runs.c.status == "running", gc_runs.c.dry_run.is_(False))
            .values(status="interrupted")
        )
    result = connection.execute(
        sa.insert(gc_runs).values(
            started_at=now(),
            status="running",
            dry_run=dry_run,
            blobs_deleted=0,
            bytes_freed=0,
            uploads_purged=0,
            holder=holder,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def update_gc_run(connection: sa.Connection, run_id: int, **values: Any) -> None:
    connection.execute(sa.update(gc_runs).where(gc_runs.c.id == run_id).values(**values))


def gc_run_list(connection: sa.Connection, limit: int) -> list[dict[str, Any]]:
    query = sa.select(gc_runs).order_by(gc_runs.c.id.desc()).limit(limit)
    return [with_aware_times(row._mapping) for row in connection.execute(query)]


def last_started(connection: sa.Connection, table: sa.Table, **where: Any) -> datetime | None:
    query = sa.select(sa.func.max(table.c.started_at))
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    value = connection.execute(query).scalar()
    return _aware(value)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes for timezone-aware columns; they were stored in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def with_aware_times(row: Any) -> dict[str, Any]:
    """A run row as a dict, its timestamps in UTC with their offset on every backend."""
    return {key: _aware(value) if isinstance(value, datetime) else value for key, value in dict(row).items()}


def totals(connection: sa.Connection) -> dict[str, float]:
    """Sums over every finished, real run: what the metrics report across nodes and restarts."""
    gc = connection.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(gc_runs.c.blobs_deleted), 0),
            sa.func.coalesce(sa.func.sum(gc_runs.c.bytes_freed), 0),
            sa.func.coalesce(sa.func.sum(gc_runs.c.uploads_purged), 0),
        ).where(gc_runs.c.dry_run.is_(False), gc_runs.c.status == "completed")
    ).one()
    last = connection.execute(
        sa.select(gc_runs.c.duration_seconds)
        .where(gc_runs.c.dry_run.is_(False), gc_runs.c.status == "completed")
        .order_by(gc_runs.c.id.desc())
        .limit(1)
    ).scalar()
    life = connection.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(lifecycle_runs.c.images_expired), 0),
            sa.func.coalesce(sa.func.sum(lifecycle_runs.c.bytes_freed), 0),
        ).where(lifecycle_runs.c.status == "completed")
    ).one()
    return {
        "gc_runs": float(gc[0]),
        "gc_blobs_deleted": float(gc[1]),
        "gc_bytes_freed": float(gc[2]),
        "gc_uploads_purged": float(gc[3]),
        "gc_last_duration_seconds": float(last or 0.0),
        "lifecycle_runs": float(life[0]),
        "lifecycle_images_expired": float(life[1]),
        "lifecycle_bytes_freed": float(life[2]),
    }
