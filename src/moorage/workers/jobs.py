"""The job runner: worker threads in the server process that run the durable jobs of the metadata store.

Each worker thread polls the queue (a cheap read while there is nothing to do, so idle workers
take no write lock), claims one due job under its own holder id, runs its kind's handler and then
deletes it, retries it later with a back-off, or keeps it as failed after its last attempt. A
heartbeat thread renews the leases of running jobs, so a long job is not taken over while its
worker lives; a worker killed mid-job (a crash, `kill -9`) leaves a lease whose holder is dead,
and the next runner to start on this machine, or any runner once the lease expires, runs it again.

Scanning is CPU work in Python: the threads run at a lower scheduling priority (`nice` 10, Linux
only) and there is one by default, so that the event loop serving requests is preferred by the
kernel; the GIL is still shared, and `scan_workers = 0` with a separate `moorage worker` process
moves the work out of the server entirely.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from moorage.metadata.holders import new_holder
from moorage.metadata.jobs import Job, JobQueue

log = logging.getLogger("moorage.jobs")

MAX_BACKOFF = timedelta(hours=1)
WORKER_NICENESS = 10


class JobHandler(Protocol):
    """Runs the jobs of one kind.

    Contract: `run` does the job; returning means done (the job is deleted). It may run again for
    the same job after a crash, so it must be idempotent. Raising means "not now": the job runs
    again after a back-off, and after its last attempt `gave_up` is called instead of a retry (also
    when the job's workers kept dying). Handlers must not hold a write transaction while they work.
    """

    kind: str

    def run(self, job: Job) -> None: ...

    def gave_up(self, job: Job, reason: str) -> None: ...


def backoff(attempts: int, base: float) -> timedelta:
    """Seconds before attempt `attempts + 1`: base, 4×base, 16×base…, at most an hour."""
    return min(timedelta(seconds=base * 4 ** max(attempts - 1, 0)), MAX_BACKOFF)


class JobRunner:
    def __init__(
        self,
        queue: JobQueue,
        handlers: Sequence[JobHandler],
        workers: int = 1,
        poll_interval: float = 1.0,
        lease: timedelta = timedelta(minutes=5),
        retry_base: float = 30.0,
        name: str = "jobs",
    ) -> None:
        self.queue = queue
        self.handlers = {handler.kind: handler for handler in handlers}
        self.workers = workers
        self.poll_interval = poll_interval
        self.lease = lease
        self.retry_base = retry_base
        self.name = name
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, int] = {}
        """Holder id → the job it runs (what the heartbeat renews)."""
        self._lock = threading.Lock()

    @property
    def kinds(self) -> list[str]:
        return sorted(self.handlers)

    def start(self) -> None:
        if self.workers <= 0 or not self.handlers or self._threads:
            return
        for number in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"moorage-{self.name}-{number}", daemon=True)
            self._threads.append(thread)
        self._threads.append(threading.Thread(target=self._heartbeat, name=f"moorage-{self.name}-lease", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking jobs and wait a little for those running; one still running is re-run after a restart."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=timeout / max(len(self._threads), 1))

    def _work(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # Linux: a thread is a task with its own niceness
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICENESS)
        holder = new_holder(self.name)
        self._recover()
        while not self._stop.is_set():
            try:
                ran = self.run_one(holder)
            except Exception:
                log.exception("job runner: claiming a job failed")
                ran = False
            if not ran:
                self._stop.wait(self.poll_interval)

    def _recover(self) -> None:
        try:
            found = self.queue.recover(self.kinds)
        except Exception:
            log.exception("job runner: looking for jobs of dead workers failed")
            return
        if found:
            log.warning("re-running %d job(s) whose worker died", found)

    def run_one(self, holder: str) -> bool:
        """Claim and run one due job as `holder`; whether there was one."""
        if not self.queue.has_due(self.kinds):
            return False
        claim = self.queue.claim(self.kinds, holder, self.lease)
        for abandoned in claim.gave_up:
            self._give_up(abandoned, "its worker stopped (crash or timeout) on every attempt")
        job = claim.job
        if job is None:
            return bool(claim.gave_up)
        with self._lock:
            self._running[holder] = job.id
        try:
            self.handlers[job.kind].run(job)
        except Exception as error:  # noqa: BLE001 - a job's failure must not stop its worker
            self._failed(job, error)
        else:
            self.queue.complete(job)
        finally:
            with self._lock:
                self._running.pop(holder, None)
        return True

    def _failed(self, job: Job, error: Exception) -> None:
        message = f"{type(error).__name__}: {error}"
        if job.last_attempt:
            log.error("job %s (%s) failed for good after %d attempts: %s", job.id, job.kind, job.attempts, message)
            if self.queue.fail(job, message):
                self._give_up(job, message)
            return
        delay = backoff(job.attempts, self.retry_base)
        log.warning("job %s (%s) failed, retrying in %s: %s", job.id, job.kind, delay, message)
        self.queue.retry(job, message, delay)

    def _give_up(self, job: Job, reason: str) -> None:
        handler = self.handlers.get(job.kind)
        if handler is None:
            return
        try:
            handler.gave_up(job, reason)
        except Exception:
            log.exception("job %s (%s): recording the failure failed", job.id, job.kind)

    def _heartbeat(self) -> None:
        interval = max(self.lease.total_seconds() / 3, 0.5)
        while not self._stop.wait(interval):
            with self._lock:
                running = dict(self._running)
            for holder, job_id in running.items():
                try:
                    self.queue.renew([job_id], holder, self.lease)
                except Exception:
                    log.exception("job runner: renewing the lease of job %s failed", job_id)
