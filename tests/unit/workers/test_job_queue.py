"""The durable job queue: enqueued with the caller's change, claimed once, re-run after a crash, retried, given up.

Every test runs on SQLite and on PostgreSQL (skipped only when no PostgreSQL answers and CI is unset).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from moorage.metadata import jobs
from moorage.metadata.database import Database
from moorage.metadata.holders import new_holder
from moorage.metadata.jobs import Job, JobQueue
from moorage.metadata.jobs_schema import jobs as jobs_table
from moorage.workers.jobs import JobRunner, backoff
from tests.support.server import postgres_database

LEASE = timedelta(minutes=5)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def migrated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """One migrated database per backend for the module (creating one costs a second on PostgreSQL)."""
    if request.param == "sqlite":
        store = Database(f"sqlite:///{tmp_path_factory.mktemp('jobs') / 'metadata.db'}")
        store.migrate()
        yield store
        store.dispose()
        return
    with postgres_database() as url:
        store = Database(url)
        store.migrate()
        yield store
        store.dispose()


@pytest.fixture
def database(migrated: Database) -> Database:
    """The module's database with an empty queue."""
    with migrated.write() as connection:
        connection.execute(sa.delete(jobs_table))
    return migrated


class Recording:
    """A handler that records each run (and may fail the first `failures` runs of every job)."""

    kind = "test"

    def __init__(self, failures: int = 0, pause: float = 0.0) -> None:
        self.failures = failures
        self.pause = pause
        self.runs: list[int] = []
        self.given_up: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    def run(self, job: Job) -> None:
        with self._lock:
            self.runs.append(job.id)
            attempt = self.runs.count(job.id)
        time.sleep(self.pause)
        if attempt <= self.failures:
            raise RuntimeError(f"attempt {attempt} fails")

    def gave_up(self, job: Job, reason: str) -> None:
        self.given_up.append((job.id, reason))


def all_jobs(database: Database) -> list[jobs.JobRow]:
    return JobQueue(database).listing(limit=10_000)


def test_a_job_commits_with_the_change_that_enqueued_it_or_not_at_all(database: Database) -> None:
    with pytest.raises(RuntimeError), database.write() as connection:
        jobs.enqueue(connection, "test", {"n": 1})
        raise RuntimeError("the push failed")
    assert all_jobs(database) == []
    with database.write() as connection:
        jobs.enqueue(connection, "test", {"n": 2})
    assert [row.payload for row in all_jobs(database)] == [{"n": 2}]


def test_one_pending_job_per_dedup_key_but_a_running_one_does_not_count(database: Database) -> None:
    queue = JobQueue(database)
    for _ in range(3):
        with database.write() as connection:
            jobs.enqueue(connection, "test", {"digest": "a"}, dedup_key="test:a")
    assert len(all_jobs(database)) == 1
    claimed = queue.claim(["test"], new_holder("t"), LEASE).job
    assert claimed is not None
    with database.write() as connection:
        jobs.enqueue(connection, "test", {"digest": "a"}, dedup_key="test:a")
    assert sorted(row.status for row in all_jobs(database)) == ["pending", "running"]
    # The running one fails: with an equal job waiting, it is dropped instead of queued twice.
    assert queue.retry(claimed, "boom", timedelta(0))
    assert [row.status for row in all_jobs(database)] == ["pending"]


def test_a_claimed_job_is_not_claimed_again_until_its_lease_expires(database: Database) -> None:
    queue = JobQueue(database)
    with database.write() as connection:
        jobs.enqueue(connection, "test", {})
    first = queue.claim(["test"], new_holder("a"), timedelta(seconds=0.3)).job
    assert first is not None and first.attempts == 1
    assert queue.claim(["test"], new_holder("b"), LEASE).job is None
    time.sleep(0.4)
    second = queue.claim(["test"], new_holder("b"), LEASE).job
    assert second is not None and second.id == first.id and second.attempts == 2
    assert not queue.complete(first), "the first holder lost the job: its completion must not count"
    assert queue.complete(second) and all_jobs(database) == []


def test_a_job_whose_worker_keeps_dying_fails_after_its_last_attempt(database: Database) -> None:
    queue = JobQueue(database)
    with database.write() as connection:
        jobs.enqueue(connection, "test", {}, max_attempts=2)
    for _ in range(2):
        assert queue.claim(["test"], new_holder("a"), timedelta(0)).job is not None
    claim = queue.claim(["test"], new_holder("b"), LEASE)
    assert claim.job is None and len(claim.gave_up) == 1
    [row] = all_jobs(database)
    assert row.status == "failed" and "gave up after 2 attempts" in (row.last_error or "")


def test_a_failing_job_is_retried_with_a_back_off_then_given_up(database: Database) -> None:
    assert [backoff(n, 30).total_seconds() for n in (1, 2, 3)] == [30, 120, 480]
    assert backoff(20, 30) == timedelta(hours=1)
    handler = Recording(failures=5)
    runner = JobRunner(JobQueue(database), [handler], retry_base=0)
    with database.write() as connection:
        jobs.enqueue(connection, "test", {}, max_attempts=3)
    holder = new_holder("t")
    while runner.run_one(holder):
        pass
    [row] = all_jobs(database)
    assert len(handler.runs) == 3 and row.status == "failed" and row.attempts == 3
    assert "attempt 3 fails" in (row.last_error or "")
    assert handler.given_up == [(row.id, "RuntimeError: attempt 3 fails")]


def test_two_runners_never_run_the_same_job(database: Database) -> None:
    handler = Recording(pause=0.002)
    with database.write() as connection:
        for number in range(40):
            jobs.enqueue(connection, "test", {"n": number})
    runners = [JobRunner(JobQueue(database), [handler], workers=2, poll_interval=0.05) for _ in range(2)]
    for runner in runners:
        runner.start()
    try:
        deadline = time.monotonic() + 60
        while all_jobs(database):
            assert time.monotonic() < deadline, "the runners did not finish the jobs"
            time.sleep(0.05)
    finally:
        for runner in runners:
            runner.stop()
    assert len(handler.runs) == 40 and len(set(handler.runs)) == 40


WORKER = textwrap.dedent(
    """
    import sys, time
    from datetime import timedelta
    from moorage.metadata.database import Database
    from moorage.metadata.holders import new_holder
    from moorage.metadata.jobs import JobQueue
    from moorage.workers.jobs import JobRunner

    class Stuck:
        kind = "test"
        def run(self, job):
            print("running", job.id, flush=True)
            time.sleep(3600)
        def gave_up(self, job, reason):
            pass

    runner = JobRunner(JobQueue(Database(sys.argv[1])), [Stuck()], lease=timedelta(hours=1))
    runner.run_one(new_holder("jobs"))
    """
)


def test_a_job_whose_worker_was_killed_mid_run_is_run_again_at_once_by_the_next_runner(database: Database) -> None:
    with database.write() as connection:
        jobs.enqueue(connection, "test", {"n": 1})
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, database.url], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().startswith("running")
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    [row] = all_jobs(database)
    assert row.status == "running"  # its lease lasts an hour: only the dead holder lets it go now
    handler = Recording()
    runner = JobRunner(JobQueue(database), [handler], poll_interval=0.05)
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while all_jobs(database):
            assert time.monotonic() < deadline, "the killed job was not run again"
            time.sleep(0.05)
    finally:
        runner.stop()
    assert handler.runs == [row.id]


def test_an_idle_runner_polls_without_waiting_for_a_push_in_progress(database: Database) -> None:
    """Workers look for work with a read: they never queue behind (or hold up) a push's write transaction."""
    queue = JobQueue(database)
    answers: list[bool] = []
    with database.write() as connection:
        jobs.enqueue(connection, "test", {})  # not committed yet: invisible to the poll
        poll = threading.Thread(target=lambda: answers.append(queue.has_due(["test"])))
        poll.start()
        poll.join(timeout=5)
        assert answers == [False], "the poll waited for the write transaction"
    assert queue.has_due(["test"])
