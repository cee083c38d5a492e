"""Starting the HTTP server: migrations once, then the chosen server with its workers."""

from __future__ import annotations

import json
import logging
import os
import socket
import sys

from moorage.app import RESOLVED_SETTINGS_VARIABLE
from moorage.app_auth import build_auth
from moorage.config import Settings, is_loopback
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


def prepare_authentication(settings: Settings, database: Database) -> None:
    """Create the first admin (when there are no users) and a signing key."""
    if not settings.auth_is_enabled():
        return
    auth = build_auth(settings, database)
    auth.keys.ensure_signing_key()
    generated = auth.accounts.ensure_first_admin(settings.admin_username, settings.admin_password)
    if generated is not None:
        path = settings.data_dir / "initial-admin-password"
        path.touch(mode=0o600)
        path.write_text(generated + "\n")
        log.warning(
            "created admin user %r; its password is in %s (delete the file once read)", settings.admin_username, path
        )
        if sys.stderr.isatty():
            sys.stderr.write(f"\n  admin password (shown once): {generated}\n\n")
    log.info("authentication is on (token service %r)", settings.token_service)


def run(settings: Settings) -> None:
    check_bind_safety(settings)
    ensure_address_free(settings.host, settings.port)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.metadata_url())
    database.migrate()
    prepare_authentication(settings, database)
    database.dispose()
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
    ).serve()
