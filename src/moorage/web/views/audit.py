"""The audit log with filters: who did what, to which repository, when, and did it work.

Reading it needs what the API needs (ADMIN on the repository filtered on, or on everything); the
service checks and records a refusal. Pages follow the log's own order (oldest first) from `since`,
which defaults to the last seven days so the first page is recent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from starlette.responses import Response

from moorage.governance.audit import AuditQuery
from moorage.web.pages import Page, PageError
from moorage.web.views.history import parse_moment

ENTRIES_PER_PAGE = 100
OUTCOMES = ("success", "denied", "failure")


def _text(page: Page, name: str, limit: int) -> str | None:
    value = page.query(name)
    if not value:
        return None
    if len(value) > limit or any(ord(c) < 32 for c in value):
        raise PageError(422, "Invalid filter", f"{name} is plain text of at most {limit} characters")
    return value


def audit_page(page: Page) -> Response:
    outcome = page.query("outcome") or None
    if outcome is not None and outcome not in OUTCOMES:
        raise PageError(422, "Invalid filter", "outcome is success, denied or failure")
    since_text = page.query("since")
    since = parse_moment(since_text) if since_text else datetime.now(UTC) - timedelta(days=7)
    until = parse_moment(page.query("until"))
    after_text = page.query("after")
    after = int(after_text) if after_text.isdigit() and len(after_text) < 18 else None
    query = AuditQuery(
        repository=_text(page, "repository", 255),
        action=_text(page, "action", 64),
        actor=_text(page, "actor", 255),
        outcome=outcome,
        since=since,
        until=until,
        after_id=after,
        limit=ENTRIES_PER_PAGE + 1,
    )
    entries = page.services.governance.audit.query(page.viewer.acting_from(page.address), query)
    more = len(entries) > ENTRIES_PER_PAGE
    entries = entries[:ENTRIES_PER_PAGE]
    filters = {
        "repository": query.repository or "",
        "action": query.action or "",
        "actor": query.actor or "",
        "outcome": outcome or "",
        "since": since_text,
        "until": page.query("until"),
    }
    next_link = None
    if more and entries:
        next_link = "/audit?" + urlencode({**{k: v for k, v in filters.items() if v}, "after": entries[-1].id})
    return page.render(
        "audit.html",
        title="Audit log",
        entries=entries,
        filters=filters,
        outcomes=OUTCOMES,
        since=since,
        next_link=next_link,
    )
