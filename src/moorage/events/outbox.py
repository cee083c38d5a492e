"""Emitting an event: one pending delivery per matching subscription, in the caller's transaction.

This is the transactional outbox: the rows commit with the change or not at all, so a crash
after the commit never loses an event, and a rolled-back push never sends one. The cost inside
the write transaction is one indexed query (subscriptions by scope) and one insert per match.
"""

from __future__ import annotations

import sqlalchemy as sa

from moorage.events.model import Event
from moorage.events.scopes import hears, scopes_of
from moorage.metadata import webhooks as queries


def emit(connection: sa.Connection, event: Event) -> list[int]:
    """Queue `event` for every enabled subscription that hears its repository and type.

    Call it inside the write transaction of the change (`database.write()`); returns the ids of
    the deliveries queued (none when nobody listens). Delivery happens after the commit, in the
    background, at least once per subscription (receivers deduplicate on the event id).
    """
    matches = queries.enabled_for_scopes(connection, scopes_of(event.repository))
    targets = [
        subscription_id
        for subscription_id, kind, scope, types in matches
        if event.type in types and hears(kind, scope, event.repository)
    ]
    if not targets:
        return []
    body = event.body()
    rows = [
        {
            "subscription_id": subscription_id,
            "event_id": event.id,
            "event_type": event.type,
            "repository": event.repository,
            "body": body,
            "created_at": event.time,
        }
        for subscription_id in sorted(targets)
    ]
    return queries.enqueue(connection, rows)
