"""The registry hook that turns pushes, tag changes and deletes into events (in their transactions)."""

from __future__ import annotations

import sqlalchemy as sa

from moorage.domain.access import Actor
from moorage.events.model import Event, EventType
from moorage.events.outbox import emit
from moorage.registry.hooks import ManifestDeleted, ManifestPushed, RegistryHook, TagChange

LIFECYCLE_ACTOR = ("system", "lifecycle")
"""The actor lifecycle runs delete as (lifecycle/service.py); its credential names the rule."""


def is_lifecycle(actor: Actor) -> bool:
    return (actor.kind, actor.name) == LIFECYCLE_ACTOR


class WebhookHook(RegistryHook):
    def __init__(self, registry_host: str | None) -> None:
        self.registry_host = registry_host
        """The host clients pull from (`external_url`'s), for the pull reference of push events."""

    def tag_changing(self, connection: sa.Connection, change: TagChange) -> None:
        if change.old_digest == change.new_digest:
            return  # the same manifest pushed again under the same tag: nothing moved
        if change.old_digest is None:
            kind, digest, previous = EventType.TAG_CREATE, change.new_digest, None
        elif change.new_digest is None:
            kind, digest, previous = EventType.TAG_DELETE, change.old_digest, None
        else:
            kind, digest, previous = EventType.TAG_MOVE, change.new_digest, change.old_digest
        event = Event(
            kind, change.repository, change.actor, digest, change.tag, previous_digest=previous, reason=change.override
        )
        emit(connection, event)

    def manifest_pushed(self, connection: sa.Connection, event: ManifestPushed) -> None:
        reference = f"{self.registry_host}/{event.repository}@{event.digest}" if self.registry_host else None
        emit(
            connection,
            Event(
                EventType.MANIFEST_PUSH,
                event.repository,
                event.actor,
                event.digest,
                event.tag,
                event.media_type,
                pull_reference=reference,
            ),
        )

    def manifest_deleting(self, connection: sa.Connection, event: ManifestDeleted) -> None:
        if is_lifecycle(event.actor):
            reason = f"lifecycle expiry ({event.actor.credential})" if event.actor.credential else "lifecycle expiry"
            emit(
                connection,
                Event(EventType.LIFECYCLE_EXPIRE, event.repository, event.actor, event.digest, reason=reason),
            )
        else:
            emit(connection, Event(EventType.MANIFEST_DELETE, event.repository, event.actor, event.digest))
