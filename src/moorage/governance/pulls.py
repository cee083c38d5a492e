"""Counting pulls without slowing them: an in-memory tally flushed to the metadata store in the background.

A manifest GET only adds one to a dict under a lock (no I/O); a daemon thread writes the tallies
every `interval` seconds in one short transaction, adding to what other processes and nodes wrote.
A clean stop flushes what is left (the app's shutdown calls `close`); only a process that crashes
loses its last interval of counts: pull counts are statistics, not facts.

Pulls also go to the audit log (`audit_pulls`): `aggregate` (the default) writes one
`manifest.pull` entry per identity (with its address), image and window of `audit_pull_window_seconds`
with the count, first and last pull, once the window has closed, in the same transaction as the
counts; a pull storm adds a handful of entries, not one per request. `all` writes one entry per
pull; `off` none. Each server process aggregates its own pulls.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from moorage.domain.access import Actor
from moorage.domain.audit_chain import rfc3339
from moorage.metadata import history, images
from moorage.metadata.database import Database

log = logging.getLogger(__name__)


AuditPulls = Literal["off", "aggregate", "all"]
PullKey = tuple[Actor, str, str, int]
"""Who pulled (with the address), repository, digest, window number (or a serial number under `all`)."""


@dataclass(slots=True)
class PullWindow:
    count: int
    first: float
    last: float
    """Seconds since the epoch: `time.time()` costs less than a `datetime` on every pull."""


class PullRecorder:
    def __init__(
        self, database: Database, interval: float, audit: AuditPulls = "aggregate", window_seconds: int = 60
    ) -> None:
        self.database = database
        self.interval = interval
        self.audit = audit
        self.window_seconds = window_seconds
        self._lock = threading.Lock()
        self._tally: dict[tuple[str, str], tuple[int, float]] = {}
        self._pulls: dict[PullKey, PullWindow] = {}
        self._serial = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def record(self, repository: str, digest: str, actor: Actor | None = None) -> None:
        """Count one pull of a manifest (called on the event loop: no I/O here)."""
        moment = time.time()
        key = (repository, digest)
        with self._lock:
            counted = self._tally.get(key)
            self._tally[key] = (counted[0] + 1 if counted else 1, moment)
            if actor is not None and self.audit != "off":
                self._serial += 1
                slot = self._serial if self.audit == "all" else int(moment) // self.window_seconds
                window = self._pulls.setdefault((actor, repository, digest, slot), PullWindow(0, moment, moment))
                window.count += 1
                window.last = moment
            if self._thread is None:
                self._start()

    def _closed_windows(self, everything: bool) -> dict[PullKey, PullWindow]:
        """Take the pull windows that have ended (all of them when stopping); call with the lock held."""
        current = int(time.time()) // self.window_seconds
        closed = {k: w for k, w in self._pulls.items() if everything or self.audit == "all" or k[3] < current}
        for key in closed:
            del self._pulls[key]
        return closed

    def _audit_pulls(self, connection: Any, windows: dict[PullKey, PullWindow]) -> None:
        for (actor, repository, digest, _), window in sorted(windows.items(), key=lambda item: item[1].first):
            detail: dict[str, Any] = {"digest": digest, "count": window.count}
            if self.audit == "aggregate":
                detail |= {"first": rfc3339(_utc(window.first)), "last": rfc3339(_utc(window.last))}
                detail["window_seconds"] = self.window_seconds
            history.append_audit(connection, "manifest.pull", actor, repository, digest, "success", detail)

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="moorage-pull-recorder", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self, everything: bool = False) -> None:
        """Write what was counted since the last flush (and the closed pull windows to the audit log);
        on failure keep it for the next one. `everything`: also the windows still open (at a stop)."""
        with self._lock:
            tally, self._tally = self._tally, {}
            windows = self._closed_windows(everything)
        if not tally and not windows:
            return
        try:
            with self.database.write() as connection:
                if tally:
                    pulls = [(r, d, count, _utc(last)) for (r, d), (count, last) in tally.items()]
                    images.add_pulls(connection, pulls)
                self._audit_pulls(connection, windows)
        except Exception:  # noqa: BLE001 - the store may be briefly unavailable; counts wait for the next flush
            log.warning("could not record %d pull tallies; retrying later", len(tally), exc_info=True)
            with self._lock:
                for key, (count, last) in tally.items():
                    current, latest = self._tally.get(key, (0, last))
                    self._tally[key] = (current + count, max(latest, last))
                for pull, window in windows.items():
                    self._pulls.setdefault(pull, window)

    def close(self) -> None:
        self._stop.set()
        self.flush(everything=True)


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
