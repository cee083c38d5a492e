"""Connecting to the metadata store and bringing its schema up to date.

SQLite (the embedded default) runs in WAL mode with a busy timeout, and write transactions start
with BEGIN IMMEDIATE so that two writers queue instead of failing on a lock upgrade.
PostgreSQL needs nothing special.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config

_MIGRATIONS = str(Path(__file__).with_name("migrations"))


class Database:
    """The metadata store's engine with read and write transactions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        options: dict[str, Any] = {"pool_pre_ping": not self.is_sqlite}
        if self.is_sqlite:
            options["connect_args"] = {"check_same_thread": False, "timeout": 30}
            options["pool_size"] = 8
            options["max_overflow"] = 16
        else:
            options["pool_size"] = 10
            options["max_overflow"] = 20
        self.engine = sa.create_engine(url, **options)
        if self.is_sqlite:
            _configure_sqlite(self.engine)

    @property
    def reads_are_local(self) -> bool:
        """Whether a single indexed read is fast enough to run on the event loop (SQLite: no network)."""
        return self.is_sqlite

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A connection for reads; each statement sees committed data (no snapshot across statements)."""
        with self.engine.connect() as connection:
            yield connection.execution_options(moorage_autocommit=True)

    @contextlib.contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A short write transaction; commits on success, rolls back on error."""
        with self.engine.connect() as connection:
            connection = connection.execution_options(moorage_write=True)
            with connection.begin():
                yield connection

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent; safe on every start).

        A schema that a newer moorage already migrated is left alone: migrations only expand the
        schema while older nodes still run on it (docs/deployment.md, "Upgrading a cluster"), so
        an older node restarting during a rolling upgrade keeps serving instead of failing.
        """
        with self.engine.begin() as connection:
            if not self.is_sqlite:
                # Nodes starting together run migrations one at a time.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(724501)")
            if self._schema_state(connection).newer:
                return
            from alembic import command

            config = _alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")  # migrations of parallel features may branch (e.g. 0002a)

    def schema_state(self) -> SchemaState:
        """Which migrations the store has, which this version would apply, and whether it is ahead."""
        with self.engine.connect() as connection:
            return self._schema_state(connection)

    @staticmethod
    def _schema_state(connection: sa.Connection) -> SchemaState:
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(_alembic_config())
        applied = set(MigrationContext.configure(connection).get_current_heads())
        known = {revision.revision for revision in script.walk_revisions()}
        newer = applied - known
        if newer:
            return SchemaState(tuple(sorted(applied)), (), tuple(sorted(newer)))
        if applied:
            reachable = {rev.revision for rev in script.iterate_revisions(tuple(applied), "base")}
            pending = known - reachable
        else:
            pending = known
        return SchemaState(tuple(sorted(applied)), tuple(sorted(pending)), ())

    def dispose(self) -> None:
        self.engine.dispose()


@dataclass(frozen=True)
class SchemaState:
    applied: tuple[str, ...]
    """The store's current migration heads."""
    pending: tuple[str, ...]
    """Migrations this version has that the store lacks."""
    newer: tuple[str, ...]
    """Heads this version does not know: a newer moorage migrated the store."""


def _alembic_config() -> Config:
    """Alembic (about 11 MB resident) is imported by the processes that migrate or check the schema
    (the start-up child, `moorage migrate`), not by every HTTP worker that opens the store."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", _MIGRATIONS)
    return config


def _configure_sqlite(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def on_begin(connection: sa.Connection) -> None:
        options = connection.get_execution_options()
        if options.get("moorage_autocommit"):
            return  # plain reads: each statement is its own implicit transaction
        connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get("moorage_write") else "BEGIN")


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'metadata.db'}"
