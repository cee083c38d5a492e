"""Starting the HTTP server: migrations once, then the chosen server with its workers."""

from __future__ import annotations

import json
import logging
import os
import socket

from moorage.app import RESOLVED_SETTINGS_VARIABLE
from moorage.config import Settings
from moorage.metadata.database import Database

log = logging.getLogger("moorage")


class AddressInUse(SystemExit):
    """Another process listens on the address; granian would share it silently (SO_REUSEPORT)."""


def ensure_address_free(host: str, port: int) -> None:
    """Refuse to start beside another server: an exclusive bind fails if anyone listens there."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise AddressInUse(f"moorage: cannot listen on {host}:{port}: {error.strerror}") from None


def run(settings: Settings) -> None:
    ensure_address_free(settings.host, settings.port)
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
