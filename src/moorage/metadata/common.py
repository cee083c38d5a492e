"""Small helpers every query module uses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def now() -> datetime:
    return datetime.now(UTC)


def insert_ignoring_duplicates(connection: sa.Connection, table: sa.Table, rows: list[dict[str, object]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING, so racing writers of the same row both succeed."""
    if not rows:
        return
    dialect = sqlite if connection.dialect.name == "sqlite" else postgresql
    connection.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


def upsert(
    connection: sa.Connection, table: sa.Table, row: dict[str, object], keys: list[str], update: list[str]
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE the `update` columns."""
    dialect = sqlite if connection.dialect.name == "sqlite" else postgresql
    statement = dialect.insert(table).values(row)
    statement = statement.on_conflict_do_update(
        index_elements=keys, set_={column: statement.excluded[column] for column in update}
    )
    connection.execute(statement)


def lexical(connection: sa.Connection, column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    """The column compared byte by byte, as the spec's lexical order of tags and names asks."""
    return column.collate("C") if connection.dialect.name == "postgresql" else column


class PreparedQuery:
    """A Core statement compiled once per dialect and run as a plain driver string.

    Building a Core statement's cache key costs far more than the query itself on SQLite, so the
    reads on every pull (manifest by tag or digest, blob size) go through this. Only columns whose
    values need no SQLAlchemy type conversion (strings, integers, bytes) belong in such a query.
    """

    def __init__(self, statement: sa.Select[Any]) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None]] = {}

    def first(self, connection: sa.Connection, **params: Any) -> Any:
        compiled = self._compiled.get(connection.dialect.name)
        if compiled is None:
            result = self.statement.compile(dialect=connection.dialect)
            order = tuple(result.positiontup) if result.positiontup is not None else None
            compiled = self._compiled[connection.dialect.name] = (str(result), order)
        sql, order = compiled
        arguments = tuple(params[name] for name in order) if order is not None else params
        return connection.exec_driver_sql(sql, arguments).first()
