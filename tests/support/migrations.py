"""Migration tests: a new, empty database on each backend, and moving its schema to a given revision."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

from moorage.metadata import database as database_module
from moorage.metadata.database import Database
from tests.support.server import postgres_database


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty metadata database: SQLite in the test's directory, then a PostgreSQL one."""
    if request.param == "postgres":
        with postgres_database() as database_url:
            yield database_url
    else:
        yield f"sqlite:///{tmp_path / 'metadata.db'}"


def migrate(database: Database, revision: str, *, down: bool = False) -> None:
    """Upgrade (or downgrade) the database's schema to exactly `revision`."""
    config = Config()
    config.set_main_option("script_location", database_module._MIGRATIONS)
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)
