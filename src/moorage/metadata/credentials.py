"""Queries about personal access tokens and robot accounts (secrets stored as SHA-256 only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from moorage.metadata.accounts import aware
from moorage.metadata.accounts_schema import access_tokens, robots, users
from moorage.metadata.common import now


@dataclass(frozen=True)
class AccessTokenRow:
    id: str
    user_id: int
    user_name: str
    name: str
    secret_hash: str
    grants: list[dict[str, Any]]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class RobotRow:
    id: int
    namespace: str
    name: str
    description: str | None
    secret_hash: str
    grants: list[dict[str, Any]]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


_TOKEN_COLUMNS = [*access_tokens.c, users.c.name.label("user_name")]


def _token(row: Any) -> AccessTokenRow:
    return AccessTokenRow(
        row.id,
        row.user_id,
        row.user_name,
        row.name,
        row.secret_hash,
        list(row.grants),
        aware(row.created_at),  # type: ignore[arg-type]
        aware(row.expires_at),
        aware(row.revoked_at),
        aware(row.last_used_at),
    )


def _robot(row: Any) -> RobotRow:
    return RobotRow(
        row.id,
        row.namespace,
        row.name,
        row.description,
        row.secret_hash,
        list(row.grants),
        aware(row.created_at),  # type: ignore[arg-type]
        aware(row.expires_at),
        aware(row.last_used_at),
    )


def find_token(connection: sa.Connection, token_id: str) -> AccessTokenRow | None:
    query = sa.select(*_TOKEN_COLUMNS).join(users, users.c.id == access_tokens.c.user_id)
    row = connection.execute(query.where(access_tokens.c.id == token_id)).first()
    return _token(row) if row else None


def list_tokens(connection: sa.Connection, user_id: int) -> list[AccessTokenRow]:
    query = sa.select(*_TOKEN_COLUMNS).join(users, users.c.id == access_tokens.c.user_id)
    query = query.where(access_tokens.c.user_id == user_id).order_by(access_tokens.c.created_at)
    return [_token(row) for row in connection.execute(query)]


def insert_token(connection: sa.Connection, **values: Any) -> None:
    connection.execute(access_tokens.insert().values(created_at=now(), **values))


def revoke_token(connection: sa.Connection, user_id: int, token_id: str) -> bool:
    query = access_tokens.update().where(
        access_tokens.c.id == token_id, access_tokens.c.user_id == user_id, access_tokens.c.revoked_at.is_(None)
    )
    return connection.execute(query.values(revoked_at=now())).rowcount > 0


def touch_token(connection: sa.Connection, token_id: str) -> None:
    connection.execute(access_tokens.update().where(access_tokens.c.id == token_id).values(last_used_at=now()))


def find_robot(connection: sa.Connection, namespace: str, name: str) -> RobotRow | None:
    row = connection.execute(sa.select(robots).where(robots.c.namespace == namespace, robots.c.name == name)).first()
    return _robot(row) if row else None


def list_robots(connection: sa.Connection, namespace: str) -> list[RobotRow]:
    query = sa.select(robots).where(robots.c.namespace == namespace).order_by(robots.c.name)
    return [_robot(row) for row in connection.execute(query)]


def insert_robot(connection: sa.Connection, **values: Any) -> None:
    connection.execute(robots.insert().values(created_at=now(), **values))


def update_robot(connection: sa.Connection, namespace: str, name: str, **values: Any) -> bool:
    query = robots.update().where(robots.c.namespace == namespace, robots.c.name == name)
    return connection.execute(query.values(**values)).rowcount > 0


def delete_robot(connection: sa.Connection, namespace: str, name: str) -> bool:
    return (
        connection.execute(robots.delete().where(robots.c.namespace == namespace, robots.c.name == name)).rowcount > 0
    )
