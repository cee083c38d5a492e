"""What must happen once before the server answers: schema migrations and authentication set-up.

`moorage serve` runs this in a short-lived child process (`python -m moorage.startup`), so the
long-lived supervisor never imports the application: granian forks its workers from the
supervisor, and everything the supervisor holds would be resident twice.
"""

from __future__ import annotations

import logging
import sys

from moorage.app_auth import build_auth
from moorage.config import Settings, settings_from_environment
from moorage.metadata.database import Database

log = logging.getLogger("moorage")


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


def prepare(settings: Settings) -> None:
    """Migrate the metadata store and set up authentication; safe to run at every start."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.metadata_url())
    try:
        database.migrate()
        prepare_authentication(settings, database)
    finally:
        database.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    prepare(settings_from_environment())
