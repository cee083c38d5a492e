"""A tag's history as a timeline, and "what did `prod/api:latest` point to on 20 November?".

The timeline is every creation, move and deletion of the tag (oldest first, the tag history the
registry keeps even after the repository is gone); the date/time field (a plain `datetime-local`
input, no JavaScript) answers the question for any moment, in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.responses import Response

from moorage.domain.errors import RegistryError
from moorage.domain.references import validate_tag
from moorage.web.pages import Page, PageError
from moorage.web.views.repositories import readable_repository

EVENTS_PER_PAGE = 200


def parse_moment(text: str) -> datetime | None:
    """`2026-11-20T14:05` (the browser's datetime-local) or RFC 3339; without a zone, UTC."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PageError(422, "Invalid time", f"{text!r} is not a date and time (2026-11-20T14:05)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def tag_history(page: Page) -> Response:
    name, tag = page.param("name"), page.param("tag")
    readable_repository(page, name)
    try:
        validate_tag(tag)
    except RegistryError as error:
        raise PageError(422, "Invalid tag", error.message) from None
    images = page.services.governance.images
    assert images is not None
    after_text = page.query("after")
    after = int(after_text) if after_text.isdigit() and len(after_text) < 18 else None
    events = images.tag_history(name, tag, None, after, EVENTS_PER_PAGE + 1)
    more = len(events) > EVENTS_PER_PAGE
    events = events[:EVENTS_PER_PAGE]
    at_text = page.query("at")
    moment = parse_moment(at_text)
    answer = images.tag_at(name, tag, moment) if moment is not None else None
    return page.render(
        "history.html",
        title=f"{name}:{tag} history",
        repository=name,
        tag=tag,
        events=events,
        moment=moment,
        at_text=at_text,
        answer=answer,
        next_after=events[-1].id if more and events else None,
    )
