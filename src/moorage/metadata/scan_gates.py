"""Queries of scan gate policies: one row per repository or namespace that sets one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from moorage.metadata.common import now, upsert
from moorage.metadata.scan_gates_schema import scan_gate_policies as table


@dataclass(frozen=True)
class StoredGatePolicy:
    scope: str
    """`repository` or `namespace`."""
    name: str
    policy: dict[str, Any]
    updated_by: str
    updated_at: datetime


def _stored(row: Any) -> StoredGatePolicy:
    return StoredGatePolicy(row.scope, row.name, row.policy, row.updated_by, row.updated_at)


def all_policies(connection: sa.Connection) -> list[StoredGatePolicy]:
    """Every stored policy (the table is small: one row per governed repository or namespace)."""
    query = sa.select(table).order_by(table.c.scope, table.c.name)
    return [_stored(row) for row in connection.execute(query)]


def find(connection: sa.Connection, scope: str, name: str) -> StoredGatePolicy | None:
    query = sa.select(table).where(table.c.scope == scope, table.c.name == name)
    row = connection.execute(query).first()
    return _stored(row) if row is not None else None


def put(connection: sa.Connection, scope: str, name: str, policy: dict[str, Any], updated_by: str) -> None:
    row = {"scope": scope, "name": name, "policy": policy, "updated_by": updated_by, "updated_at": now()}
    upsert(connection, table, row, keys=["scope", "name"], update=["policy", "updated_by", "updated_at"])


def delete(connection: sa.Connection, scope: str, name: str) -> bool:
    result = connection.execute(sa.delete(table).where(table.c.scope == scope, table.c.name == name))
    return result.rowcount > 0
