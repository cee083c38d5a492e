"""The delivery worker: a thread in each server process that sends due deliveries from the queue.

It claims the oldest pending delivery of each (subscription, repository) under a lease
(metadata/webhooks.py `claim`), sends each on a small thread pool (`concurrency` requests at
once, so one slow receiver holds one slot, never a push), logs the attempt and settles the
delivery (delivered, retry later, or failed). Several processes or nodes run it together: the
lease makes each delivery theirs alone, and a lease whose holder provably died (a `kill -9` on
this machine, see metadata/holders.py) is released at once rather than when it expires.
Delivery is at least once: a process killed after the receiver answered but before the outcome
committed sends that event again, with the same `Moorage-Event-Id`.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from moorage.auth.secret_box import SecretBox, UndecryptableSecret
from moorage.events.delivery import AttemptResult, Sender
from moorage.events.metrics import WebhookMetrics
from moorage.events.retry import RetryPolicy
from moorage.events.signing import (
    DELIVERY_HEADER,
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    signature_header,
)
from moorage.metadata import webhooks as queries
from moorage.metadata.common import now
from moorage.metadata.database import Database
from moorage.metadata.holders import is_dead, new_holder

log = logging.getLogger("moorage.webhooks")

DEAD_HOLDER_CHECK_SECONDS = 5.0
PRUNE_EVERY_SECONDS = 600.0


class DeliveryWorker:
    def __init__(
        self,
        database: Database,
        box: SecretBox,
        sender: Sender,
        retry: RetryPolicy,
        metrics: WebhookMetrics,
        poll_interval: float,
        concurrency: int,
        log_retention: timedelta | None = None,
    ) -> None:
        self.database = database
        self.box = box
        self.sender = sender
        self.retry = retry
        self.metrics = metrics
        self.poll_interval = poll_interval
        self.concurrency = concurrency
        self.log_retention = log_retention
        """How long finished deliveries stay in the log (None: for ever)."""
        self.lease_ttl = timedelta(seconds=sender.timeout + 60)
        """Outlasts the longest attempt (the request timeout) with room to record its outcome."""
        self.holder = new_holder("webhooks")
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._in_flight: dict[Future[None], int] = {}
        self._lock = threading.Lock()
        self._last_dead_check = 0.0
        self._last_prune = 0.0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="moorage-webhook")
        self._thread = threading.Thread(target=self._loop, name="moorage-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop claiming; give back the leases of deliveries not started; attempts under way finish."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            cancelled = [delivery_id for future, delivery_id in self._in_flight.items() if future.cancel()]
        if cancelled:
            with self.database.write() as connection:
                queries.release_leases_of(connection, self.holder, cancelled)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self.sender.close()

    def wake(self) -> None:
        """Look for due deliveries now (an event was just committed, or a delivery finished)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("webhook delivery pass failed")
            self._wake.wait(self.poll_interval)
            self._wake.clear()

    def run_once(self) -> int:
        """Claim and start what is due and fits in the free slots; how many were started."""
        self._release_dead_holders()
        self._prune_log()
        with self._lock:
            free = self.concurrency - len(self._in_flight)
        if free <= 0 or self._pool is None:
            return 0
        moment = now()
        with self.database.read() as connection:
            if not queries.any_due(connection, moment):
                return 0
        with self.database.write() as connection:
            claimed = queries.claim(connection, self.holder, moment, moment + self.lease_ttl, free)
        for row in claimed:
            with self._lock:
                future = self._pool.submit(self._deliver, row)
                self._in_flight[future] = row["id"]
            future.add_done_callback(self._finished)
        return len(claimed)

    def _finished(self, future: Future[None]) -> None:
        with self._lock:
            self._in_flight.pop(future, None)
        self._wake.set()  # the next delivery of that repository may now be due

    def _release_dead_holders(self) -> None:
        if time.monotonic() - self._last_dead_check < DEAD_HOLDER_CHECK_SECONDS:
            return
        self._last_dead_check = time.monotonic()
        with self.database.read() as connection:
            holders = queries.lease_holders(connection, now())
        dead = [holder for holder in holders if holder != self.holder and is_dead(holder)]
        if dead:
            with self.database.write() as connection:
                released = queries.release_leases(connection, dead)
            log.info("released %d webhook deliveries held by %d dead processes", released, len(dead))

    def _prune_log(self) -> None:
        """Forget finished deliveries older than the retention, a batch per transaction (any process may)."""
        if self.log_retention is None or time.monotonic() - self._last_prune < PRUNE_EVERY_SECONDS:
            return
        self._last_prune = time.monotonic()
        while not self._stop.is_set():
            with self.database.write() as connection:
                if queries.prune(connection, now() - self.log_retention) == 0:
                    return

    def _deliver(self, row: dict[str, Any]) -> None:
        try:
            self.attempt(row)
        except Exception:
            log.exception("webhook delivery %s failed unexpectedly", row["id"])

    def attempt(self, row: dict[str, Any]) -> AttemptResult:
        """Send one claimed delivery (a row from `claim`, leased by this worker) and settle it."""
        body = row["body"].encode()
        started = now()
        try:
            secret = self.box.decrypt(row["secret_encrypted"]).decode()
        except UndecryptableSecret:
            result = AttemptResult(None, "the signing secret cannot be decrypted (was secret_key changed?)", 0.0)
        else:
            headers = {
                SIGNATURE_HEADER: signature_header(secret, int(time.time()), body),
                EVENT_ID_HEADER: row["event_id"],
                EVENT_TYPE_HEADER: row["event_type"],
                DELIVERY_HEADER: str(row["id"]),
            }
            result = self.sender.send(row["url"], headers, body)
        attempt_number = row["attempts"] + 1
        finished = now()
        outcome = self.retry.outcome(result.succeeded, attempt_number, finished)
        attempt = {
            "attempted_at": started,
            "status_code": result.status_code,
            "error": result.error,
            "duration_ms": round(result.duration_ms, 1),
        }
        try:
            with self.database.write() as connection:
                queries.record_attempt(connection, row["id"], self.holder, attempt, outcome)
        except sa.exc.IntegrityError:
            return result  # the subscription was deleted meanwhile: its log went with it
        gave_up = not result.succeeded and outcome.get("state") == queries.FAILED
        self.metrics.attempt_finished(result.succeeded, gave_up)
        if not result.succeeded:
            log.info("webhook delivery %s attempt %d failed: %s", row["id"], attempt_number, result.error)
        return result
