"""Queries of the vulnerability database: bulk writes of OSV records, candidate lookups, status.

Writes come in batches (one `executemany` per table per batch, `COPY` on PostgreSQL) inside the import's one
transaction; reads look packages up by (ecosystem, name) through the index table, in chunks that
keep each `IN` list well under every driver's parameter limit.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from moorage.metadata.common import insert_ignoring_duplicates, now
from moorage.metadata.vulndb_schema import (
    vulnerability_database_state,
    vulnerability_packages,
    vulnerability_records,
    vulnerability_sources,
)

CHUNK = 500
"""Names or ids per `IN` list."""


@dataclass(frozen=True)
class StoredRecord:
    """One record to write: its id, `modified`, raw JSON and the (ecosystem, release, name) it names."""

    id: str
    modified: datetime
    withdrawn: bool
    document: str
    packages: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class Generation:
    number: int
    changed_at: datetime


@dataclass(frozen=True)
class SourceRow:
    name: str
    imported_at: datetime
    filename: str
    records_read: int
    records_stored: int
    imports: int
    records: int
    """Records in the database whose newest version came from this source."""


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def lock_for_import(connection: sa.Connection) -> None:
    """Serialise imports: the state row, locked for the transaction (SQLite's BEGIN IMMEDIATE already is)."""
    insert_ignoring_duplicates(
        connection, vulnerability_database_state, [{"id": 1, "generation": 0, "changed_at": now()}]
    )
    connection.execute(
        sa.select(vulnerability_database_state.c.generation)
        .where(vulnerability_database_state.c.id == 1)
        .with_for_update()
    ).scalar()


def stored_modified(connection: sa.Connection, ids: Sequence[str]) -> dict[str, datetime]:
    """The `modified` of each of these records already stored."""
    found: dict[str, datetime] = {}
    for chunk in _chunks(ids):
        query = sa.select(vulnerability_records.c.id, vulnerability_records.c.modified).where(
            vulnerability_records.c.id.in_(chunk)
        )
        found.update((row.id, _utc(row.modified)) for row in connection.execute(query))
    return found


def replace_records(
    connection: sa.Connection, records: Sequence[StoredRecord], source: str, stored: Collection[str]
) -> None:
    """Write a batch of records, replacing the stored copies (and index rows) of the ids in `stored`.

    The caller names the ids already stored (it has just read them, under the import lock): deleting
    by every id of the batch cost a first import of 100,000 records minutes on PostgreSQL, each
    `DELETE … IN (500 ids)` scanning the growing, never-analysed table it had just written.
    """
    if not records:
        return
    replaced = sorted({record.id for record in records if record.id in stored})
    for chunk in _chunks(replaced):
        connection.execute(sa.delete(vulnerability_packages).where(vulnerability_packages.c.record_id.in_(chunk)))
        connection.execute(sa.delete(vulnerability_records).where(vulnerability_records.c.id.in_(chunk)))
    at = now()
    record_rows = [(r.id, r.modified, source, at, r.withdrawn, r.document) for r in records]
    package_rows = [(r.id, *package) for r in records for package in r.packages]
    write = _copy if connection.dialect.name == "postgresql" else _insert
    write(connection, vulnerability_records, record_rows)
    write(connection, vulnerability_packages, package_rows)


def _copy(connection: sa.Connection, table: sa.Table, rows: Sequence[tuple[Any, ...]]) -> None:
    """PostgreSQL's `COPY … FROM STDIN` of rows in the table's column order, in the caller's transaction.

    One stream instead of INSERT batches; it did not by itself shorten the import (the time was in the
    DELETEs `replace_records` no longer makes; docs/benchmarks.md, "Vulnerability database import").
    """
    if not rows:
        return
    columns = ", ".join(column.name for column in table.columns)
    dbapi: Any = connection.connection.dbapi_connection
    with dbapi.cursor() as cursor, cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _insert(connection: sa.Connection, table: sa.Table, rows: Sequence[tuple[Any, ...]]) -> None:
    """One `executemany` of rows in the table's column order, converted by the dialect's own bind processors.

    The same statement and values as `connection.execute(table.insert(), dicts)`, without SQLAlchemy's
    per-row parameter handling, which was a third of a SQLite import's write time.
    """
    if not rows:
        return
    dialect = connection.dialect
    processors = [column.type.dialect_impl(dialect).bind_processor(dialect) for column in table.columns]
    converting = [(index, process) for index, process in enumerate(processors) if process is not None]
    if converting:
        converted = []
        for row in rows:
            values = list(row)
            for index, process in converting:
                values[index] = process(values[index])
            converted.append(tuple(values))
        rows = converted
    statement = str(table.insert().compile(dialect=dialect))
    connection.exec_driver_sql(statement, list(rows))


def refresh_statistics(connection: sa.Connection) -> None:
    """Let PostgreSQL's planner see the rows an import wrote (ANALYZE, in the import's transaction).

    Autovacuum analyses a table a while after it changed, or never where it is off; until then the
    planner guesses the size of a table it has not seen and picks sequential scans for the next
    import's and the scans' lookups. ANALYZE counts the transaction's own rows, its statistics commit
    (or roll back) with the import, and it blocks neither readers nor writers (its lock, held to the
    commit, only makes a VACUUM or a schema change of these tables wait). A role that does not own the
    tables gets a warning, not an error. SQLite's planner needs none.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text(f"ANALYZE {vulnerability_records.name}, {vulnerability_packages.name}"))


def advance_generation(connection: sa.Connection) -> Generation:
    """The contents changed: a new generation (call after `lock_for_import`, in the same transaction)."""
    at = now()
    connection.execute(
        sa.update(vulnerability_database_state)
        .where(vulnerability_database_state.c.id == 1)
        .values(generation=vulnerability_database_state.c.generation + 1, changed_at=at)
    )
    found = generation(connection)
    assert found is not None
    return found


def generation(connection: sa.Connection) -> Generation | None:
    """The contents' generation; None when nothing was ever imported."""
    row = connection.execute(
        sa.select(vulnerability_database_state.c.generation, vulnerability_database_state.c.changed_at).where(
            vulnerability_database_state.c.id == 1
        )
    ).first()
    if row is None or row.generation == 0:
        return None
    return Generation(row.generation, _utc(row.changed_at))


def record_import(
    connection: sa.Connection, source: str, filename: str, records_read: int, records_stored: int
) -> datetime:
    """Note an import of `source` (its last import's time, file and counts)."""
    at = now()
    table = vulnerability_sources
    updated = connection.execute(
        sa.update(table)
        .where(table.c.name == source)
        .values(
            imported_at=at,
            filename=filename,
            records_read=records_read,
            records_stored=records_stored,
            imports=table.c.imports + 1,
        )
    )
    if updated.rowcount == 0:
        connection.execute(
            table.insert().values(
                name=source,
                imported_at=at,
                filename=filename,
                records_read=records_read,
                records_stored=records_stored,
                imports=1,
            )
        )
    return at


def candidates(connection: sa.Connection, keys: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The documents (by id) of every record naming one of these (ecosystem, name) pairs."""
    names_by_ecosystem: dict[str, set[str]] = {}
    for ecosystem, name in keys:
        names_by_ecosystem.setdefault(ecosystem, set()).add(name)
    found: dict[str, str] = {}
    packages, records = vulnerability_packages, vulnerability_records
    for ecosystem, names in names_by_ecosystem.items():
        for chunk in _chunks(sorted(names)):
            matching_ids = (
                sa.select(packages.c.record_id)
                .where(packages.c.ecosystem == ecosystem, packages.c.name.in_(chunk))
                .distinct()
                .scalar_subquery()
            )
            query = sa.select(records.c.id, records.c.document).where(
                records.c.id.in_(matching_ids), records.c.withdrawn.is_(False)
            )
            found.update((row.id, row.document) for row in connection.execute(query))
    return found


def documents(connection: sa.Connection, ids: Sequence[str]) -> dict[str, str]:
    """The documents of these records that are stored (aliases: most are not)."""
    found: dict[str, str] = {}
    for chunk in _chunks(sorted(set(ids))):
        query = sa.select(vulnerability_records.c.id, vulnerability_records.c.document).where(
            vulnerability_records.c.id.in_(chunk)
        )
        found.update((row.id, row.document) for row in connection.execute(query))
    return found


def sources(connection: sa.Connection) -> list[SourceRow]:
    counts: dict[str, int] = dict(
        connection.execute(
            sa.select(vulnerability_records.c.source, sa.func.count()).group_by(vulnerability_records.c.source)
        ).all()
    )
    rows = connection.execute(sa.select(vulnerability_sources).order_by(vulnerability_sources.c.name))
    return [
        SourceRow(
            row.name,
            _utc(row.imported_at),
            row.filename,
            row.records_read,
            row.records_stored,
            row.imports,
            int(counts.get(row.name, 0)),
        )
        for row in rows
    ]


def records_per_ecosystem(connection: sa.Connection) -> dict[str, int]:
    """Records naming a package of each ecosystem (base name; a record naming several counts in each)."""
    packages = vulnerability_packages
    query = (
        sa.select(packages.c.ecosystem, sa.func.count(sa.distinct(packages.c.record_id)))
        .group_by(packages.c.ecosystem)
        .order_by(packages.c.ecosystem)
    )
    return {ecosystem: int(count) for ecosystem, count in connection.execute(query)}


def record_count(connection: sa.Connection) -> tuple[int, int]:
    """(records, withdrawn records)."""
    records = vulnerability_records
    total = connection.execute(sa.select(sa.func.count()).select_from(records)).scalar() or 0
    withdrawn = (
        connection.execute(
            sa.select(sa.func.count()).select_from(records).where(records.c.withdrawn.is_(True))
        ).scalar()
        or 0
    )
    return int(total), int(withdrawn)
