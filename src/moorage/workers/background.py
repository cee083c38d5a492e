"""The background work of a process: the maintenance schedule, webhook delivery and the job runner.

`moorage serve` runs it beside the HTTP workers by default; with `background_work = false` a node
serves HTTP only and `moorage worker` processes (on the same metadata store) do the work. Every part
coordinates through the metadata store (leases, `SKIP LOCKED` claims), so any number of processes
may run it at once and each piece of work still runs once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Runner(Protocol):
    """Something that works in threads of its own between `start` and `stop` (which waits for them)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class BackgroundWork:
    def __init__(self, runners: Sequence[Runner]) -> None:
        self.runners = list(runners)

    def start(self) -> None:
        for runner in self.runners:
            runner.start()

    def stop(self) -> None:
        """Stop in the reverse order of starting: the job runner first, the schedule last."""
        for runner in reversed(self.runners):
            runner.stop()
