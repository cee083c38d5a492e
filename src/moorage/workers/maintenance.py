"""The maintenance schedule: applies lifecycle policies and runs GC at their configured intervals.

Every server process runs this loop; the leases in the metadata store let one of them do each
job, and the recorded runs are the shared clock, so several processes or nodes never duplicate
work and a restart picks up the schedule where it was.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import datetime, timedelta

from moorage.gc.collector import CollectionBusy, GarbageCollector
from moorage.lifecycle.service import LifecycleBusy, LifecycleService
from moorage.metadata.common import now
from moorage.observability.request_context import bound_job

log = logging.getLogger("moorage.maintenance")


class MaintenanceSchedule:
    def __init__(
        self,
        lifecycle: LifecycleService,
        collector: GarbageCollector,
        lifecycle_interval: float,
        gc_interval: float,
        tick: float = 30.0,
    ) -> None:
        self.lifecycle = lifecycle
        self.collector = collector
        self.lifecycle_interval = lifecycle_interval
        self.gc_interval = gc_interval
        self.tick = tick
        self._started = now()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not (self.lifecycle_interval or self.gc_interval) or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="moorage-maintenance", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(min(self.tick, self._shortest_interval())):
            try:
                self.run_due()
            except Exception:
                log.exception("maintenance run failed")

    def _shortest_interval(self) -> float:
        return min(interval for interval in (self.lifecycle_interval, self.gc_interval) if interval)

    def run_due(self) -> None:
        """Run each job whose last run (on any node) is older than its interval.

        A job that never ran counts from this process's start, so a fresh registry (or a test
        server) does not apply policies the moment it boots.
        """
        if self.lifecycle_interval and self._due(self.lifecycle.last_run_started(), self.lifecycle_interval):
            with contextlib.suppress(LifecycleBusy), bound_job("scheduled-lifecycle"):
                self.lifecycle.apply_all()
        if self.gc_interval and self._due(self.collector.last_run_started(), self.gc_interval):
            with contextlib.suppress(CollectionBusy), bound_job("scheduled-gc"):
                self.collector.run()

    def _due(self, last: datetime | None, interval: float) -> bool:
        return now() - (last or self._started) >= timedelta(seconds=interval)
