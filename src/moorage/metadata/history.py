"""Append-only records: tag history and the audit log (the database refuses UPDATE and DELETE on both)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from moorage.domain.access import Actor
from moorage.metadata.audit_chain import append_chained
from moorage.metadata.common import now
from moorage.metadata.governance_schema import audit_log, tag_history


def _actor(actor: Actor) -> dict[str, Any]:
    return {
        "actor_kind": actor.kind,
        "actor_name": actor.name,
        "actor_credential": actor.credential,
        "source_address": actor.source_address,
    }


@dataclass(frozen=True)
class TagEvent:
    id: int
    repository: str
    tag: str
    action: str
    old_digest: str | None
    new_digest: str | None
    actor: Actor
    at: datetime


def append_tag_event(
    connection: sa.Connection, repository: str, tag: str, old: str | None, new: str | None, actor: Actor
) -> None:
    action = "create" if old is None else "delete" if new is None else "move"
    row = {"repository": repository, "tag": tag, "action": action, "old_digest": old, "new_digest": new, "at": now()}
    connection.execute(sa.insert(tag_history), [{**row, **_actor(actor)}])


def _as_actor(row: Any) -> Actor:
    return Actor(row.actor_kind, row.actor_name, row.actor_credential, row.source_address)


def tag_events(
    connection: sa.Connection,
    repository: str,
    tag: str | None,
    until: datetime | None,
    after_id: int | None,
    limit: int,
) -> list[TagEvent]:
    """Events in the order they happened (one tag, or every tag of the repository)."""
    query = sa.select(tag_history).where(tag_history.c.repository == repository).order_by(tag_history.c.id).limit(limit)
    if tag is not None:
        query = query.where(tag_history.c.tag == tag)
    if until is not None:
        query = query.where(tag_history.c.at <= until)
    if after_id is not None:
        query = query.where(tag_history.c.id > after_id)
    return [
        TagEvent(r.id, r.repository, r.tag, r.action, r.old_digest, r.new_digest, _as_actor(r), r.at)
        for r in connection.execute(query)
    ]


def last_tag_event(connection: sa.Connection, repository: str, tag: str, until: datetime) -> TagEvent | None:
    """The last change of the tag at or before `until`: what it pointed to then."""
    query = (
        sa.select(tag_history)
        .where(tag_history.c.repository == repository, tag_history.c.tag == tag, tag_history.c.at <= until)
        .order_by(tag_history.c.id.desc())
        .limit(1)
    )
    r = connection.execute(query).first()
    return TagEvent(r.id, r.repository, r.tag, r.action, r.old_digest, r.new_digest, _as_actor(r), r.at) if r else None


# -- audit log ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    action: str
    repository: str | None
    target: str | None
    outcome: str
    actor: Actor
    detail: dict[str, Any] | None
    prev_hash: str | None = None
    hash: str | None = None


def append_audit(
    connection: sa.Connection,
    action: str,
    actor: Actor,
    repository: str | None,
    target: str | None,
    outcome: str,
    detail: dict[str, Any] | None,
) -> int:
    """Append one entry to the hash chain (locks the chain head until the transaction ends); its id."""
    row = {"at": now(), "action": action, "repository": repository, "target": target, "outcome": outcome}
    return append_chained(connection, {**row, **_actor(actor), "detail": detail})


@dataclass(frozen=True)
class AuditQuery:
    repository: str | None = None
    action: str | None = None
    """An exact action, or a prefix ending in `.` (e.g. `tag.`)."""
    actor: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_id: int | None = None
    limit: int = 100


def audit_entries(connection: sa.Connection, query: AuditQuery) -> list[AuditEntry]:
    """Entries in the order they were recorded, after `after_id` (the cursor), at most `limit`."""
    select = sa.select(audit_log).order_by(audit_log.c.id).limit(query.limit)
    if query.repository is not None:
        select = select.where(audit_log.c.repository == query.repository)
    if query.action is not None:
        if query.action.endswith("."):
            select = select.where(audit_log.c.action.startswith(query.action, autoescape=True))
        else:
            select = select.where(audit_log.c.action == query.action)
    if query.actor is not None:
        select = select.where(audit_log.c.actor_name == query.actor)
    if query.outcome is not None:
        select = select.where(audit_log.c.outcome == query.outcome)
    if query.since is not None:
        select = select.where(audit_log.c.at >= query.since)
    if query.until is not None:
        select = select.where(audit_log.c.at <= query.until)
    if query.after_id is not None:
        select = select.where(audit_log.c.id > query.after_id)
    return [
        AuditEntry(r.id, r.at, r.action, r.repository, r.target, r.outcome, _as_actor(r), r.detail, r.prev_hash, r.hash)
        for r in connection.execute(select)
    ]
