"""Entries written before the hash chain existed are chained by migration 0012, exactly like new ones."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from moorage.domain.access import Actor
from moorage.domain.audit_chain import GENESIS
from moorage.metadata import audit_chain, history
from moorage.metadata.database import _MIGRATIONS, Database
from tests.support.server import postgres_database


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with contextlib.ExitStack() as stack:
        if request.param == "postgres":
            yield stack.enter_context(postgres_database())
        else:
            yield f"sqlite:///{tmp_path / 'metadata.db'}"


def _upgrade_to(store: Database, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", _MIGRATIONS)
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_entries_from_before_the_chain_are_chained_by_the_migration(url: str) -> None:
    store = Database(url)
    try:
        _upgrade_to(store, "0010")
        with store.engine.begin() as connection:
            for number in range(3):
                connection.execute(
                    sa.text(
                        "INSERT INTO audit_log (at, action, outcome, actor_kind, actor_name, source_address, detail)"
                        " VALUES (:at, 'repository.create', 'success', 'user', 'old', '10.0.0.1', :detail)"
                    ),
                    {"at": f"2026-01-0{number + 1} 10:00:00.000001", "detail": '{"b": 1, "a": "ü"}'},
                )
        store.migrate()
        with store.write() as connection:
            history.append_audit(connection, "user.update", Actor("user", "new"), None, "bob", "success", None)
        with store.read() as connection:
            report = audit_chain.verify(connection)
            rows = list(connection.execute(sa.text("SELECT id, prev_hash, hash FROM audit_log ORDER BY id")))
        assert report.valid and report.entries == 4, report
        assert rows[0].prev_hash == GENESIS and [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
        assert report.head_id == rows[-1].id == 4
    finally:
        store.dispose()
