"""Starting the HTTP server: migrations once, then the chosen server with its workers."""

from __future__ import annotations

import json
import logging
import os

from moorage.app import RESOLVED_SETTINGS_VARIABLE
from moorage.config import Settings
from moorage.metadata.database import Database

log = logging.getLogger("moorage")


def run(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.metadata_url())
    database.migrate()
    database.dispose()
    os.environ[RESOLVED_SETTINGS_VARIABLE] = json.dumps(settings.model_dump(mode="json"))
    log.info("moorage listening on http://%s:%d (data in %s)", settings.host, settings.port, settings.data_dir)
    if settings.server == "uvicorn":
        import uvicorn

        uvicorn.run(
            "moorage.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level,
            access_log=False,
        )
        return
    from granian.constants import Interfaces, Loops
    from granian.server import Server

    Server(
        "moorage.app:create_app",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        loop=Loops.uvloop,
        factory=True,
        log_access=False,
    ).serve()
