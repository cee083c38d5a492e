"""Counting pulls without slowing them: an in-memory tally flushed to the metadata store in the background.

A manifest GET only adds one to a dict under a lock (no I/O); a daemon thread writes the tallies
every `interval` seconds in one short transaction, adding to what other processes and nodes wrote.
A clean stop flushes what is left (the app's shutdown calls `close`); only a process that crashes
loses its last interval of counts: pull counts are statistics, not facts.
"""

from __future__ import annotations

import atexit
import logging
import threading
from datetime import UTC, datetime

from moorage.metadata import images
from moorage.metadata.database import Database

log = logging.getLogger(__name__)


class PullRecorder:
    def __init__(self, database: Database, interval: float) -> None:
        self.database = database
        self.interval = interval
        self._lock = threading.Lock()
        self._tally: dict[tuple[str, str], tuple[int, datetime]] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def record(self, repository: str, digest: str) -> None:
        """Count one pull of a manifest (called on the event loop: no I/O here)."""
        moment = datetime.now(UTC)
        with self._lock:
            count, _ = self._tally.get((repository, digest), (0, moment))
            self._tally[(repository, digest)] = (count + 1, moment)
            if self._thread is None:
                self._start()

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="moorage-pull-recorder", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        """Write what was counted since the last flush; on failure keep it for the next one."""
        with self._lock:
            tally, self._tally = self._tally, {}
        if not tally:
            return
        try:
            with self.database.write() as connection:
                images.add_pulls(connection, [(r, d, count, last) for (r, d), (count, last) in tally.items()])
        except Exception:  # noqa: BLE001 - the store may be briefly unavailable; counts wait for the next flush
            log.warning("could not record %d pull tallies; retrying later", len(tally), exc_info=True)
            with self._lock:
                for key, (count, last) in tally.items():
                    current, latest = self._tally.get(key, (0, last))
                    self._tally[key] = (current + count, max(latest, last))

    def close(self) -> None:
        self._stop.set()
        self.flush()
