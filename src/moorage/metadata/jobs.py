"""Queries of the job queue: enqueue inside a caller's transaction, claim with a lease, finish.

The rules, which every backend keeps:
- `enqueue` runs on the caller's connection, so a job commits with the change that asked for it
  (a push and its scan) or not at all. A `dedup_key` allows one *pending* job per key: enqueueing
  again while one waits does nothing (a running job does not count: it may have read its input
  before the change that asks again).
- `claim` takes the oldest due job of the given kinds and marks it `running` for one holder until
  its lease expires. A `running` job whose lease expired, or whose holder is provably dead
  (`holders.is_dead`: a `kill -9` on this machine), is claimed again: a crash re-runs unfinished
  jobs. Each claim counts an attempt; a job claimed `max_attempts` times without finishing fails.
  On PostgreSQL the candidate row is locked with `FOR UPDATE SKIP LOCKED`, so nodes claiming at
  once take different jobs; SQLite's write transaction (`BEGIN IMMEDIATE`) serialises claims.
- `complete`, `retry` and `fail` act only while the caller still holds the job (its holder id
  matches), so a worker whose lease was taken over cannot undo the new holder's work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from moorage.metadata import holders
from moorage.metadata.common import insert_ignoring_duplicates, now
from moorage.metadata.database import Database
from moorage.metadata.jobs_schema import FAILED, PENDING, RUNNING, jobs

MAX_ERROR = 2000
"""Characters of an error message kept on a job."""


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    """Claims so far, this one included."""
    max_attempts: int
    holder: str

    @property
    def last_attempt(self) -> bool:
        return self.attempts >= self.max_attempts


@dataclass(frozen=True)
class JobRow:
    """A job as an operator sees it (listings, tests)."""

    id: int
    kind: str
    payload: dict[str, Any]
    dedup_key: str | None
    status: str
    attempts: int
    max_attempts: int
    run_after: datetime
    holder: str | None
    last_error: str | None


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns; they were stored in UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def enqueue(
    connection: sa.Connection,
    kind: str,
    payload: dict[str, Any],
    dedup_key: str | None = None,
    max_attempts: int = 3,
    delay: timedelta = timedelta(0),
) -> None:
    """Add a job on the caller's transaction; with `dedup_key`, nothing if one with that key is pending."""
    moment = now()
    row: dict[str, object] = {
        "kind": kind,
        "payload": payload,
        "dedup_key": dedup_key,
        "status": PENDING,
        "attempts": 0,
        "max_attempts": max_attempts,
        "run_after": moment + delay,
        "holder": None,
        "lease_expires_at": None,
        "last_error": None,
        "created_at": moment,
        "updated_at": moment,
    }
    if dedup_key is None:
        connection.execute(sa.insert(jobs).values(row))
    else:
        insert_ignoring_duplicates(connection, jobs, [row])


def has_due(connection: sa.Connection, kinds: Sequence[str]) -> bool:
    """Whether a job of `kinds` may be claimable now: a cheap read before taking a write transaction.

    It also says yes for any running job, since only the claim can tell whether its holder died.
    """
    moment = now()
    query = (
        sa.select(jobs.c.id)
        .where(
            jobs.c.kind.in_(kinds),
            sa.or_(
                sa.and_(jobs.c.status == PENDING, jobs.c.run_after <= moment),
                sa.and_(jobs.c.status == RUNNING, jobs.c.lease_expires_at < moment),
            ),
        )
        .limit(1)
    )
    return connection.execute(query).first() is not None


def expire_dead_holders(connection: sa.Connection, kinds: Sequence[str]) -> int:
    """End the leases of running jobs whose holder provably died (on this machine); how many."""
    query = sa.select(jobs.c.id, jobs.c.holder).where(jobs.c.kind.in_(kinds), jobs.c.status == RUNNING)
    dead = [(job_id, holder) for job_id, holder in connection.execute(query) if holder and holders.is_dead(holder)]
    moment = now() - timedelta(microseconds=1)
    for job_id, holder in dead:
        connection.execute(
            sa.update(jobs)
            .where(jobs.c.id == job_id, jobs.c.holder == holder, jobs.c.status == RUNNING)
            .values(lease_expires_at=moment)
        )
    return len(dead)


@dataclass(frozen=True)
class Claim:
    job: Job | None
    """The job claimed, if any was due."""
    gave_up: tuple[Job, ...] = ()
    """Jobs found running with their attempts used up (each killed its worker): now `failed`."""


def claim(connection: sa.Connection, kinds: Sequence[str], holder: str, lease: timedelta) -> Claim:
    """Claim the oldest due job of `kinds` for `holder` (call inside a write transaction).

    A job whose attempts are used up is marked failed instead (it killed its worker every time).
    """
    gave_up: list[Job] = []
    while True:
        moment = now()
        query = (
            sa.select(jobs)
            .where(
                jobs.c.kind.in_(kinds),
                sa.or_(
                    sa.and_(jobs.c.status == PENDING, jobs.c.run_after <= moment),
                    sa.and_(jobs.c.status == RUNNING, jobs.c.lease_expires_at < moment),
                ),
            )
            .order_by(jobs.c.run_after, jobs.c.id)
            .limit(1)
        )
        if connection.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        row = connection.execute(query).first()
        if row is None:
            return Claim(None, tuple(gave_up))
        if row.status == RUNNING and row.attempts >= row.max_attempts:
            reason = f"gave up after {row.attempts} attempts: the worker running it stopped (crash or timeout)"
            connection.execute(
                sa.update(jobs)
                .where(jobs.c.id == row.id)
                .values(status=FAILED, holder=None, lease_expires_at=None, last_error=reason, updated_at=moment)
            )
            gave_up.append(Job(row.id, row.kind, dict(row.payload), row.attempts, row.max_attempts, holder))
            continue
        attempts = row.attempts + 1
        connection.execute(
            sa.update(jobs)
            .where(jobs.c.id == row.id)
            .values(
                status=RUNNING, holder=holder, lease_expires_at=moment + lease, attempts=attempts, updated_at=moment
            )
        )
        return Claim(Job(row.id, row.kind, dict(row.payload), attempts, row.max_attempts, holder), tuple(gave_up))


def renew(connection: sa.Connection, job_ids: Sequence[int], holder: str, lease: timedelta) -> None:
    """Extend the leases of jobs `holder` still runs."""
    if job_ids:
        connection.execute(
            sa.update(jobs)
            .where(jobs.c.id.in_(job_ids), jobs.c.holder == holder, jobs.c.status == RUNNING)
            .values(lease_expires_at=now() + lease)
        )


def _held(job: Job) -> sa.ColumnElement[bool]:
    return sa.and_(jobs.c.id == job.id, jobs.c.holder == job.holder, jobs.c.status == RUNNING)


def complete(connection: sa.Connection, job: Job) -> bool:
    """Remove a finished job; False when the caller no longer held it."""
    return connection.execute(sa.delete(jobs).where(_held(job))).rowcount > 0


def retry(connection: sa.Connection, job: Job, error: str, delay: timedelta) -> bool:
    """Put a job back to run again after `delay`; dropped if an equal job is already pending."""
    row = connection.execute(sa.select(jobs.c.dedup_key).where(_held(job))).first()
    if row is None:
        return False
    if row.dedup_key is not None:
        waiting = connection.execute(
            sa.select(jobs.c.id).where(jobs.c.dedup_key == row.dedup_key, jobs.c.status == PENDING)
        ).first()
        if waiting is not None:
            connection.execute(sa.delete(jobs).where(jobs.c.id == job.id))
            return True
    moment = now()
    connection.execute(
        sa.update(jobs)
        .where(_held(job))
        .values(
            status=PENDING,
            holder=None,
            lease_expires_at=None,
            run_after=moment + delay,
            last_error=error[:MAX_ERROR],
            updated_at=moment,
        )
    )
    return True


def fail(connection: sa.Connection, job: Job, error: str) -> bool:
    """Keep a job that will not run again as `failed`, with its last error."""
    result = connection.execute(
        sa.update(jobs)
        .where(_held(job))
        .values(status=FAILED, holder=None, lease_expires_at=None, last_error=error[:MAX_ERROR], updated_at=now())
    )
    return result.rowcount > 0


def listing(connection: sa.Connection, kind: str | None = None, limit: int = 100) -> list[JobRow]:
    query = sa.select(jobs).order_by(jobs.c.id).limit(limit)
    if kind is not None:
        query = query.where(jobs.c.kind == kind)
    return [
        JobRow(
            row.id,
            row.kind,
            dict(row.payload),
            row.dedup_key,
            row.status,
            row.attempts,
            row.max_attempts,
            _aware(row.run_after),
            row.holder,
            row.last_error,
        )
        for row in connection.execute(query)
    ]


def pending_count(connection: sa.Connection, kind: str) -> int:
    query = sa.select(sa.func.count()).where(jobs.c.kind == kind, jobs.c.status.in_((PENDING, RUNNING)))
    return int(connection.execute(query).scalar_one())


class JobQueue:
    """The queue as the workers use it: each call is one short transaction of its own."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def has_due(self, kinds: Sequence[str]) -> bool:
        with self.database.read() as connection:
            return has_due(connection, kinds)

    def recover(self, kinds: Sequence[str]) -> int:
        """End the leases of running jobs whose holder died, so the next claim re-runs them."""
        with self.database.read() as connection:
            running = connection.execute(
                sa.select(jobs.c.id).where(jobs.c.kind.in_(kinds), jobs.c.status == RUNNING).limit(1)
            ).first()
        if running is None:
            return 0  # no write transaction for nothing
        with self.database.write() as connection:
            return expire_dead_holders(connection, kinds)

    def claim(self, kinds: Sequence[str], holder: str, lease: timedelta) -> Claim:
        with self.database.write() as connection:
            return claim(connection, kinds, holder, lease)

    def renew(self, job_ids: Sequence[int], holder: str, lease: timedelta) -> None:
        with self.database.write() as connection:
            renew(connection, job_ids, holder, lease)

    def complete(self, job: Job) -> bool:
        with self.database.write() as connection:
            return complete(connection, job)

    def retry(self, job: Job, error: str, delay: timedelta) -> bool:
        with self.database.write() as connection:
            return retry(connection, job, error, delay)

    def fail(self, job: Job, error: str) -> bool:
        with self.database.write() as connection:
            return fail(connection, job, error)

    def listing(self, kind: str | None = None, limit: int = 100) -> list[JobRow]:
        with self.database.read() as connection:
            return listing(connection, kind, limit)
