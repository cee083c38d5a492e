"""/api/v1/repositories/{name}/-/tags/{tag}/history: what a tag pointed to, and when it changed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from moorage.api.manage.governance import REPOSITORY, as_utc, governance, problems
from moorage.api.manage.problems import Problem
from moorage.api.manage.schemas import ActorOut, TagAt, TagEventOut, TagHistory
from moorage.api.manage.security import on_repository
from moorage.domain.access import Action
from moorage.domain.errors import RegistryError
from moorage.domain.references import validate_tag
from moorage.governance.audit import utc
from moorage.governance.images import TagEvent
from moorage.governance.services import Governance

router = APIRouter(tags=["tags"])


def event_out(event: TagEvent) -> TagEventOut:
    return TagEventOut(
        id=event.id,
        repository=event.repository,
        tag=event.tag,
        action=event.action,
        old_digest=event.old_digest,
        new_digest=event.new_digest,
        actor=ActorOut(kind=event.actor.kind, name=event.actor.name, credential=event.actor.credential),
        source_address=event.actor.source_address,
        at=utc(event.at),
    )


def _tag(tag: str) -> str:
    try:
        return validate_tag(tag)
    except RegistryError as error:
        raise Problem(422, "Invalid request", error.message) from None


@router.get(
    REPOSITORY + "/-/tags/{tag}/history",
    summary="Every creation, move and deletion of a tag, oldest first",
    dependencies=[Depends(on_repository(Action.PULL))],
)
def tag_history(
    name: str,
    tag: str,
    services: Annotated[Governance, Depends(governance)],
    after: Annotated[int | None, Query(ge=0, le=2**62, description="The `next` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> TagHistory:
    assert services.images is not None
    with problems():
        events = services.images.tag_history(name, _tag(tag), None, after, limit + 1)
    more = len(events) > limit
    events = events[:limit]
    return TagHistory(events=[event_out(e) for e in events], next=events[-1].id if more else None)


@router.get(
    REPOSITORY + "/-/tags/{tag}/at",
    summary="What the tag pointed to at a moment",
    dependencies=[Depends(on_repository(Action.PULL))],
)
def tag_at(
    name: str,
    tag: str,
    services: Annotated[Governance, Depends(governance)],
    time: Annotated[datetime, Query(description="RFC 3339 time; without a zone, UTC.")],
) -> TagAt:
    moment = as_utc(time)
    assert services.images is not None and moment is not None
    with problems():
        event = services.images.tag_at(name, _tag(tag), moment)
    return TagAt(
        repository=name,
        tag=tag,
        at=moment,
        digest=event.new_digest if event is not None else None,
        event=event_out(event) if event is not None else None,
    )
