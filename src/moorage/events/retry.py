"""Retries with exponential back-off: what happens to a delivery after an attempt (a pure decision).

Attempt n (1-based) that fails is retried after `base * 2**(n-1)` seconds, capped at `cap`, until
`max_attempts` attempts failed: the delivery is then `failed` (a person may redeliver it). While
a delivery waits, later events of its repository wait behind it (per-subscription ordering).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from moorage.metadata.webhooks import DELIVERED, FAILED


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base: float
    cap: float

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return float(min(self.cap, self.base * 2 ** min(attempt - 1, 32)))

    def outcome(self, succeeded: bool, attempt: int, moment: datetime) -> dict[str, Any]:
        """The delivery's new columns after its attempt number `attempt` ended at `moment`."""
        if succeeded:
            return {"state": DELIVERED, "finished_at": moment}
        if attempt >= self.max_attempts:
            return {"state": FAILED, "finished_at": moment}
        return {"next_attempt_at": moment + timedelta(seconds=self.delay(attempt))}
