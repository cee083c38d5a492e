"""Progress for long work the registry does on request (GC, lifecycle runs, batch deletes).

The server does the work inside one HTTP request, so the command sends it from a background thread
and, meanwhile, draws a Rich progress line on stderr with the elapsed time and the live counts the
server writes to its run records (`GET /gc/runs`, `GET /lifecycle/runs`), polled once a second.
Progress is for people: it is drawn only when stderr is a terminal, never with `--json`, never
into a pipe or a file, and it is cleared when the work ends so only the result remains.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from moorage.cli.client import Registry
from moorage.cli.errors import CliError

T = TypeVar("T")

POLL_SECONDS = 1.0


def wanted(as_json: bool) -> bool:
    """Whether to draw progress: for a person at a terminal only."""
    return not as_json and sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


def with_progress(
    work: Callable[[], T], description: str, status: Callable[[], str | None] | None = None, *, enabled: bool
) -> T:
    """Run `work`; on a terminal, show `description`, elapsed time and `status()` while it runs."""
    if not enabled:
        return work()
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as error:  # noqa: BLE001 - re-raised in the calling thread
            outcome["error"] = error

    worker = threading.Thread(target=run, name="moorage-request", daemon=True)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[status]}"))
    with Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(description, total=None, status="")
        worker.start()
        while worker.is_alive():
            worker.join(POLL_SECONDS)
            if status is not None and worker.is_alive():
                try:
                    text = status()
                except CliError:  # a failed poll costs only the live counts
                    text = None
                if text:
                    progress.update(task, status=text)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]  # type: ignore[no-any-return]


def size(count: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(count) < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count} B"  # unreachable


def _running_run(registry: Registry, path: str, describe: Callable[[dict[str, Any]], str]) -> Callable[[], str | None]:
    """A poll of the newest run record under `path`, described while it is running."""

    def status() -> str | None:
        found = registry.call("GET", path, params={"limit": 1})
        if not found or found[0]["status"] != "running":
            return None
        return describe(found[0])

    return status


def gc_status(registry: Registry) -> Callable[[], str | None]:
    """The running GC pass's counts so far, from its run record."""
    return _running_run(
        registry,
        "/gc/runs",
        lambda run: f"run {run['id']}: {run['blobs_deleted']} blobs, {size(run['bytes_freed'])} freed",
    )


def lifecycle_status(registry: Registry) -> Callable[[], str | None]:
    """The running lifecycle run's counts so far, from its run record."""
    return _running_run(
        registry,
        "/lifecycle/runs",
        lambda run: f"run {run['id']}: {run['images_expired']} images expired, {size(run['bytes_freed'])} released",
    )
