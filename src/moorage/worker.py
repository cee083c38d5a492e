"""`moorage worker`: a process that does the background work and serves no HTTP.

Scans, webhook deliveries, lifecycle and GC passes run here instead of (or beside) the serving
nodes, which then set `background_work = false`. It prepares the metadata store as `serve` does,
builds the same services, and runs `BackgroundWork` until SIGTERM or SIGINT; the work it holds is
left in a state another process takes over (leases, job retries).
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from moorage.config import Settings
from moorage.data_dir import restrict_new_files
from moorage.observability.logging_setup import configure_logging
from moorage.serve import prepare_in_child

log = logging.getLogger("moorage.worker")


def run_worker(settings: Settings) -> None:
    configure_logging(settings.log_format, settings.log_level, access_log=False)
    restrict_new_files()
    prepare_in_child(settings)
    from moorage.app import build

    _, background = build(settings)
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    background.start()
    log.info("moorage worker running: scans, webhooks, lifecycle and GC (metadata %s)", _store(settings))
    stopping.wait()
    log.info("moorage worker stopping")
    background.stop()


def _store(settings: Settings) -> str:
    return "PostgreSQL" if settings.database_url and settings.database_url.startswith("postgres") else "SQLite"
