"""Recording the scan gate's refusals and admins' bypasses in the audit log, without an entry per pull.

A refused image is often pulled again and again (a crash-looping pod, a CI retry loop), so like pull
auditing (`governance/pulls.py`, `audit_pulls = aggregate`) the gate writes one entry per identity
(with its address), repository, image, outcome and window of `window_seconds`, with the count and
the first and last attempt. The first refusal of a window is written at once, so an operator
watching the log sees it without waiting; the repeats of that window follow as one entry when it
closes (written by the next record call or `flush`). A clean stop flushes what is left.

Entries: `scan_gate.refuse` (outcome `denied`, with the policy and the reason) and
`scan_gate.bypass` (outcome `success`: an administrator pulled an image the gate refuses).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moorage.domain.access import Actor
from moorage.domain.audit_chain import rfc3339
from moorage.metadata import history
from moorage.metadata.database import Database

log = logging.getLogger(__name__)

GateKey = tuple[str, Actor, str, str, int]
"""Action, who (with the address), repository, digest, window number."""


@dataclass
class _Window:
    detail: dict[str, Any]
    first: datetime
    last: datetime
    count: int = 1
    repeats: int = 0
    """Attempts after the one written at once."""


class GateAudit:
    def __init__(self, database: Database, window_seconds: int = 60) -> None:
        self.database = database
        self.window_seconds = window_seconds
        self._lock = threading.Lock()
        self._windows: dict[GateKey, _Window] = {}

    def record(self, action: str, actor: Actor, repository: str, digest: str, detail: dict[str, Any]) -> None:
        """Count one refusal or bypass; write it now when it opens a window (call off the event loop)."""
        moment = datetime.now(UTC)
        slot = int(moment.timestamp()) // self.window_seconds
        key = (action, actor, repository, digest, slot)
        with self._lock:
            window = self._windows.get(key)
            if window is not None:
                window.count += 1
                window.repeats += 1
                window.last = moment
                first = False
            else:
                self._windows[key] = _Window(detail, moment, moment)
                first = True
            closed = self._take_closed(slot)
        entries = [(key, dict(detail, count=1))] if first else []
        entries += [(k, self._summary(w)) for k, w in closed]
        self._write(entries, closed)

    def _summary(self, window: _Window) -> dict[str, Any]:
        return dict(
            window.detail,
            count=window.repeats,
            first=rfc3339(window.first),
            last=rfc3339(window.last),
            window_seconds=self.window_seconds,
            repeated=True,
        )

    def _take_closed(self, current: int | None) -> list[tuple[GateKey, _Window]]:
        """Windows that ended (all of them when `current` is None), removed; call with the lock held."""
        closed = [(k, w) for k, w in self._windows.items() if current is None or k[4] < current]
        for key, _ in closed:
            del self._windows[key]
        return [(k, w) for k, w in closed if w.repeats]

    def _write(self, entries: list[tuple[GateKey, dict[str, Any]]], closed: list[tuple[GateKey, _Window]]) -> None:
        if not entries:
            return
        try:
            with self.database.write() as connection:
                for (action, actor, repository, digest, _), detail in entries:
                    outcome = "denied" if action == "scan_gate.refuse" else "success"
                    history.append_audit(connection, action, actor, repository, digest, outcome, detail)
        except Exception:  # noqa: BLE001 - the store may be briefly unavailable; keep the repeats for later
            log.warning("could not record %d scan gate audit entries", len(entries), exc_info=True)
            with self._lock:
                for key, window in closed:
                    self._windows.setdefault(key, window)

    def flush(self) -> None:
        """Write every open window's repeats (at a clean stop)."""
        with self._lock:
            closed = self._take_closed(None)
        self._write([(k, self._summary(w)) for k, w in closed], closed)
