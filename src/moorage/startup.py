"""What must happen once before the server answers: schema migrations and authentication set-up.

`moorage serve` runs this in a short-lived child process (`python -m moorage.startup`), so the
long-lived supervisor never imports the application: granian forks its workers from the
supervisor, and everything the supervisor holds would be resident twice.
"""

from __future__ import annotations

import logging
import sys

from moorage.app_auth import build_auth, secret_box
from moorage.auth.keys import SealedKeyUnreadable, seal_stored_keys
from moorage.auth.secret_box import SecretBox
from moorage.auth.secret_key_file import MissingSecretKey
from moorage.config import Settings, settings_from_environment
from moorage.data_dir import restrict_new_files, secure_data_dir
from moorage.metadata.database import Database, SchemaState
from moorage.observability.logging_setup import configure_logging
from moorage.proxy.rule_service import reseal_credentials

log = logging.getLogger("moorage")


def seal_secrets(database: Database, box: SecretBox) -> None:
    """Encrypt plaintext signing keys of older databases; re-encrypt those under a previous secret key."""
    sealed, reencrypted = seal_stored_keys(database, box)
    if sealed:
        log.warning("encrypted %d signing key(s) stored in plaintext by an earlier version", sealed)
    if reencrypted:
        log.info("re-encrypted %d signing key(s) with the current secret key", reencrypted)
    if reseal_credentials(database, box):  # the pull-through cache's upstream passwords
        log.info("re-encrypted upstream credentials of cache rules with the current secret key")


def prepare_authentication(settings: Settings, database: Database, box: SecretBox) -> None:
    """Create the first admin (when there are no users) and a signing key."""
    if not settings.auth_is_enabled():
        return
    auth = build_auth(settings, database, box=box)
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


def migrate_schema(database_url: str, apply: bool) -> tuple[SchemaState, SchemaState]:
    """`moorage migrate`: the schema's state before and after applying pending migrations (if `apply`)."""
    database = Database(database_url)
    try:
        before = database.schema_state()
        if apply and before.pending:
            database.migrate()
        return before, database.schema_state()
    finally:
        database.dispose()


class SchemaBehind(Exception):
    """`migrate_on_start` is off and the schema lacks migrations this version needs."""


def prepare(settings: Settings) -> None:
    """Secure the data directory, migrate the metadata store, seal stored secrets and set up
    authentication; safe to run at every start."""
    restrict_new_files()
    key_file = settings.secret_key_path()
    outside = () if settings.secret_key or key_file.parent.resolve() == settings.data_dir.resolve() else (key_file,)
    secure_data_dir(settings.data_dir, outside)
    box = secret_box(settings, create=True)
    if settings.database_url is None:
        (settings.data_dir / "metadata.db").touch(mode=0o600)
    database = Database(settings.metadata_url())
    try:
        if settings.migrate_on_start:
            database.migrate()
        else:
            pending = database.schema_state().pending
            if pending:
                raise SchemaBehind(f"the metadata store lacks migrations {', '.join(pending)}: run `moorage migrate`")
        seal_secrets(database, box)
        prepare_authentication(settings, database, box)
    finally:
        database.dispose()


if __name__ == "__main__":
    settings = settings_from_environment()
    configure_logging(settings.log_format, settings.log_level, settings.access_log)
    try:
        prepare(settings)
    except (SealedKeyUnreadable, MissingSecretKey, SchemaBehind) as error:
        log.error("%s", error)
        sys.exit(2)
