"""Starting the HTTP server: preparation once (in a child), then the chosen server with its workers.

This module is imported by the long-lived supervisor process, so it imports no application code.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys

from moorage.config import RESOLVED_SETTINGS_VARIABLE, Settings, is_loopback
from moorage.data_dir import restrict_new_files

log = logging.getLogger("moorage")


class AddressInUse(SystemExit):
    """Another process listens on the address; granian would share it silently (SO_REUSEPORT)."""


def ensure_address_free(host: str, port: int) -> None:
    """Refuse to start beside another server: a bind without SO_REUSEPORT fails if anyone listens there.

    SO_REUSEADDR, as the server itself sets, lets the bind through when the port only holds
    connections of a crashed predecessor (TIME_WAIT, or FIN_WAIT_2 while a client keeps its
    keep-alive connection open), so a restart after a crash works at once.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise AddressInUse(f"moorage: cannot listen on {host}:{port}: {error.strerror}") from None


class UnsafeBind(SystemExit):
    """Listening beyond loopback without authentication was not explicitly allowed."""


def check_bind_safety(settings: Settings) -> None:
    """Refuse an open registry on the network unless explicitly allowed, and then say so loudly."""
    if settings.auth_is_enabled() or is_loopback(settings.host):
        return
    if not settings.allow_unauthenticated_network:
        raise UnsafeBind(
            f"moorage: refusing to listen on {settings.host} without authentication; enable it "
            "(auth_enabled=true) or set allow_unauthenticated_network=true to serve anyone"
        )
    log.warning(
        "AUTHENTICATION IS OFF on %s: anyone who can reach this address may push, pull and delete", settings.host
    )


class StartupFailed(SystemExit):
    """Migrations or authentication set-up failed; the child process said why."""


def prepare_in_child(settings: Settings) -> None:
    """Run moorage.startup in a child process that hands its memory back when it exits."""
    environment = {**os.environ, RESOLVED_SETTINGS_VARIABLE: settings.model_dump_json()}
    result = subprocess.run([sys.executable, "-m", "moorage.startup"], env=environment, check=False)
    if result.returncode != 0:
        raise StartupFailed(f"moorage: start-up preparation failed (exit status {result.returncode})")


def run(settings: Settings) -> None:
    restrict_new_files()  # inherited by the start-up child and every worker: data files are owner-only
    check_bind_safety(settings)
    ensure_address_free(settings.host, settings.port)
    prepare_in_child(settings)
    resolved = settings.model_dump(mode="json", exclude={"admin_password"})
    os.environ[RESOLVED_SETTINGS_VARIABLE] = json.dumps(resolved)
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
        # A worker that dies (kill -9, out of memory) is replaced; one that dies again within
        # granian's crash-loop window (about 5 s) stops the server with exit status 1 instead,
        # so a supervisor (systemd Restart=on-failure, a container's restart policy) takes over.
        respawn_failed_workers=True,
    ).serve()
