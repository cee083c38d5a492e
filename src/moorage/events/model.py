"""An event: one change in the registry, as subscribers receive it (the JSON body of a webhook).

The body is fixed when the event happens and stored with each delivery, so a retry or a
redelivery sends the same bytes; only the signature and its timestamp are made per attempt.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from moorage.domain.access import Actor


class EventType(StrEnum):
    MANIFEST_PUSH = "manifest.push"
    MANIFEST_DELETE = "manifest.delete"
    TAG_CREATE = "tag.create"
    TAG_MOVE = "tag.move"
    TAG_DELETE = "tag.delete"
    LIFECYCLE_EXPIRE = "lifecycle.expire"
    SCAN_COMPLETED = "scan.completed"
    PING = "ping"


SUBSCRIBABLE = tuple(kind.value for kind in EventType if kind is not EventType.PING)
"""The event types a subscription may ask for (a ping goes to one subscription on demand)."""


def _new_id() -> str:
    return str(uuid.uuid4())


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Event:
    """One change. `repository` orders it: a subscriber hears a repository's events in commit order."""

    type: str
    repository: str
    actor: Actor
    digest: str | None = None
    tag: str | None = None
    media_type: str | None = None
    previous_digest: str | None = None
    """The digest a moved tag pointed to before."""
    reason: str | None = None
    """Why a change happened that its actor alone does not say (a lifecycle rule, an admin's override)."""
    pull_reference: str | None = None
    """`host/repository@digest` for pushes, when the registry knows its public host."""
    data: Mapping[str, Any] | None = None
    """Fields of the emitting feature (a scan's summary), sent under `data`."""
    id: str = field(default_factory=_new_id)
    time: datetime = field(default_factory=_now)

    def document(self) -> dict[str, Any]:
        """The JSON body: the actor by kind and name only, never a credential."""
        document: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "repository": self.repository,
            "digest": self.digest,
            "tag": self.tag,
            "media_type": self.media_type,
            "actor": {"kind": self.actor.kind, "name": self.actor.name},
        }
        for key, value in (
            ("previous_digest", self.previous_digest),
            ("reason", self.reason),
            ("pull_reference", self.pull_reference),
        ):
            if value is not None:
                document[key] = value
        if self.data is not None:
            document["data"] = dict(self.data)
        return document

    def body(self) -> str:
        return json.dumps(self.document(), separators=(",", ":"), sort_keys=True)
