"""Small helpers every query module uses."""

from __future__ import annotations

from datetime import UTC, datetime

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
