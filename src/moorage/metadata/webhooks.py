"""Queries of webhooks: subscriptions, the delivery queue (claims under a lease) and the delivery log.

The queue's one rule lives in `claim`: a delivery is due only when no earlier delivery of the same
subscription and repository is still pending, so each subscription hears of a repository's changes
in the order they committed. On PostgreSQL the claim locks its rows `FOR UPDATE SKIP LOCKED`, so
processes and nodes claiming together never take the same delivery; SQLite serialises writers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from moorage.metadata.webhooks_schema import webhook_attempts, webhook_deliveries, webhook_subscriptions

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"

_SUBSCRIPTION_COLUMNS = [c for c in webhook_subscriptions.c if c.name != "secret_encrypted"]
_SUMMARY_COLUMNS = [c for c in webhook_deliveries.c if c.name != "body"]


def aware(row: Any) -> dict[str, Any]:
    """A row as a dict, its times in UTC with their offset (SQLite returns them naive)."""
    return {
        key: value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value
        for key, value in dict(row._mapping).items()
    }


# --- subscriptions ---------------------------------------------------------------------------


def insert_subscription(connection: sa.Connection, values: dict[str, Any]) -> int:
    result = connection.execute(webhook_subscriptions.insert().values(**values))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def subscription(connection: sa.Connection, subscription_id: int) -> dict[str, Any] | None:
    """A subscription without its sealed secret."""
    query = sa.select(*_SUBSCRIPTION_COLUMNS).where(webhook_subscriptions.c.id == subscription_id)
    row = connection.execute(query).first()
    return aware(row) if row is not None else None


def sealed_secret(connection: sa.Connection, subscription_id: int) -> str | None:
    query = sa.select(webhook_subscriptions.c.secret_encrypted).where(webhook_subscriptions.c.id == subscription_id)
    value = connection.execute(query).scalar()
    return str(value) if value is not None else None


def subscriptions(connection: sa.Connection, scope: str | None = None) -> list[dict[str, Any]]:
    query = sa.select(*_SUBSCRIPTION_COLUMNS).order_by(webhook_subscriptions.c.id)
    if scope is not None:
        query = query.where(webhook_subscriptions.c.scope == scope)
    return [aware(row) for row in connection.execute(query)]


def update_subscription(connection: sa.Connection, subscription_id: int, values: dict[str, Any]) -> bool:
    statement = webhook_subscriptions.update().where(webhook_subscriptions.c.id == subscription_id)
    return connection.execute(statement.values(**values)).rowcount > 0


def delete_subscription(connection: sa.Connection, subscription_id: int) -> bool:
    # Deliveries and attempts go with it (ON DELETE CASCADE); deleted explicitly for stores without it.
    deliveries = sa.select(webhook_deliveries.c.id).where(webhook_deliveries.c.subscription_id == subscription_id)
    connection.execute(webhook_attempts.delete().where(webhook_attempts.c.delivery_id.in_(deliveries)))
    connection.execute(webhook_deliveries.delete().where(webhook_deliveries.c.subscription_id == subscription_id))
    statement = webhook_subscriptions.delete().where(webhook_subscriptions.c.id == subscription_id)
    return connection.execute(statement).rowcount > 0


_MATCHING: dict[tuple[str, int], str] = {}


def enabled_for_scopes(connection: sa.Connection, scopes: Sequence[str]) -> list[tuple[int, str, str, list[str]]]:
    """(id, scope kind, scope, event types) of the enabled subscriptions on any of `scopes`: one indexed query.

    It runs in every push's write transaction, so it is plain SQL made once per dialect and number of
    scopes: building a Core statement costs far more than the query (as `common.PreparedQuery` says).
    """
    key = (connection.dialect.name, len(scopes))
    sql = _MATCHING.get(key)
    if sql is None:
        marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        sql = _MATCHING[key] = (
            "SELECT id, scope_kind, scope, events FROM webhook_subscriptions "
            f"WHERE scope IN ({', '.join([marker] * len(scopes))}) AND enabled = TRUE"
        )
    rows = connection.exec_driver_sql(sql, tuple(scopes)).all()
    return [(row[0], row[1], row[2], row[3] if isinstance(row[3], list) else json.loads(row[3])) for row in rows]


# --- the queue -------------------------------------------------------------------------------


def enqueue(connection: sa.Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert pending deliveries; their ids, in order."""
    ids = []
    for row in rows:
        values = {"state": PENDING, "attempts": 0, "next_attempt_at": row["created_at"], **row}
        result = connection.execute(webhook_deliveries.insert().values(**values))
        ids.append(int(result.inserted_primary_key[0]))  # type: ignore[index]
    return ids


def _due(moment: datetime) -> sa.Select[tuple[int]]:
    """Deliveries that may be attempted at `moment`: pending, not waiting for a retry, not leased,
    of an enabled subscription (a disabled one's deliveries wait, neither sent nor failed)."""
    d = webhook_deliveries
    s = webhook_subscriptions
    return (
        sa.select(d.c.id)
        .join(s, s.c.id == d.c.subscription_id)
        .where(
            d.c.state == PENDING,
            d.c.next_attempt_at <= moment,
            sa.or_(d.c.lease_until.is_(None), d.c.lease_until < moment),
            s.c.enabled.is_(True),
        )
    )


def any_due(connection: sa.Connection, moment: datetime) -> bool:
    """Whether a claim could find something: a read, so an idle registry never takes the write lock."""
    return connection.execute(_due(moment).limit(1)).first() is not None


def claim(
    connection: sa.Connection, holder: str, moment: datetime, until: datetime, limit: int
) -> list[dict[str, Any]]:
    """Lease up to `limit` due deliveries, each the oldest pending one of its subscription and repository.

    Returns each claimed delivery with its subscription's URL and sealed secret.
    """
    d = webhook_deliveries
    s = webhook_subscriptions
    earlier = d.alias("earlier")
    blocked = (
        sa.select(earlier.c.id)
        .where(
            earlier.c.subscription_id == d.c.subscription_id,
            earlier.c.repository == d.c.repository,
            earlier.c.state == PENDING,
            earlier.c.id < d.c.id,
        )
        .exists()
    )
    query = _due(moment).where(~blocked).order_by(d.c.id).limit(limit).with_for_update(skip_locked=True, of=d)
    ids = [row[0] for row in connection.execute(query)]
    if not ids:
        return []
    connection.execute(d.update().where(d.c.id.in_(ids)).values(lease_holder=holder, lease_until=until))
    joined = (
        sa.select(d, s.c.url, s.c.secret_encrypted)
        .join(s, s.c.id == d.c.subscription_id)
        .where(d.c.id.in_(ids))
        .order_by(d.c.id)
    )
    return [aware(row) for row in connection.execute(joined)]


def lease_holders(connection: sa.Connection, moment: datetime) -> list[str]:
    """The holders of leases still running (to release those whose process is provably dead)."""
    d = webhook_deliveries
    query = sa.select(d.c.lease_holder).distinct().where(d.c.state == PENDING, d.c.lease_until >= moment)
    return [row[0] for row in connection.execute(query) if row[0]]


def release_leases(connection: sa.Connection, holders: Sequence[str]) -> int:
    d = webhook_deliveries
    statement = d.update().where(d.c.state == PENDING, d.c.lease_holder.in_(list(holders)))
    return connection.execute(statement.values(lease_holder=None, lease_until=None)).rowcount


def release_leases_of(connection: sa.Connection, holder: str, delivery_ids: Sequence[int]) -> None:
    """Give back `holder`'s leases on these deliveries (claimed, never started)."""
    d = webhook_deliveries
    statement = d.update().where(d.c.lease_holder == holder, d.c.id.in_(list(delivery_ids)))
    connection.execute(statement.values(lease_holder=None, lease_until=None))


def record_attempt(
    connection: sa.Connection,
    delivery_id: int,
    holder: str,
    attempt: dict[str, Any],
    outcome: dict[str, Any],
) -> bool:
    """Append the attempt to the log and settle the delivery (`outcome`), if `holder` still holds it.

    False when the lease was lost (it expired and another holder took the delivery): the attempt
    is still logged, the other holder's outcome counts.
    """
    connection.execute(webhook_attempts.insert().values(delivery_id=delivery_id, **attempt))
    d = webhook_deliveries
    statement = d.update().where(d.c.id == delivery_id, d.c.lease_holder == holder, d.c.state == PENDING)
    values = {"attempts": d.c.attempts + 1, "lease_holder": None, "lease_until": None, **outcome}
    return connection.execute(statement.values(**values)).rowcount > 0


def queue_depth(connection: sa.Connection) -> int:
    query = sa.select(sa.func.count()).select_from(webhook_deliveries).where(webhook_deliveries.c.state == PENDING)
    return int(connection.execute(query).scalar() or 0)


def prune(connection: sa.Connection, finished_before: datetime, batch: int = 1000) -> int:
    """Delete up to `batch` deliveries (and their attempts) that finished before `finished_before`."""
    d = webhook_deliveries
    ids = [
        row[0]
        for row in connection.execute(
            sa.select(d.c.id).where(d.c.state != PENDING, d.c.finished_at < finished_before).limit(batch)
        )
    ]
    if ids:
        connection.execute(webhook_attempts.delete().where(webhook_attempts.c.delivery_id.in_(ids)))
        connection.execute(d.delete().where(d.c.id.in_(ids)))
    return len(ids)


# --- the delivery log ------------------------------------------------------------------------


def deliveries(
    connection: sa.Connection,
    subscription_id: int,
    state: str | None,
    event_type: str | None,
    repository: str | None,
    before: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """A subscription's deliveries, newest first, without their bodies."""
    d = webhook_deliveries
    query = sa.select(*_SUMMARY_COLUMNS).where(d.c.subscription_id == subscription_id)
    for column, value in ((d.c.state, state), (d.c.event_type, event_type), (d.c.repository, repository)):
        if value is not None:
            query = query.where(column == value)
    if before is not None:
        query = query.where(d.c.id < before)
    rows = [aware(row) for row in connection.execute(query.order_by(d.c.id.desc()).limit(limit))]
    last = _last_attempts(connection, [row["id"] for row in rows])
    for row in rows:
        row["last_attempt"] = last.get(row["id"])
    return rows


def _last_attempts(connection: sa.Connection, delivery_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not delivery_ids:
        return {}
    a = webhook_attempts
    newest = sa.select(sa.func.max(a.c.id)).where(a.c.delivery_id.in_(delivery_ids)).group_by(a.c.delivery_id)
    rows = connection.execute(sa.select(a).where(a.c.id.in_(newest)))
    return {row.delivery_id: aware(row) for row in rows}


def delivery(connection: sa.Connection, delivery_id: int) -> dict[str, Any] | None:
    """One delivery with its body and every attempt, oldest first."""
    row = connection.execute(sa.select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)).first()
    if row is None:
        return None
    found = aware(row)
    a = webhook_attempts
    attempts = connection.execute(sa.select(a).where(a.c.delivery_id == delivery_id).order_by(a.c.id))
    found["attempt_log"] = [aware(attempt) for attempt in attempts]
    return found
