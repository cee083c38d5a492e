"""Who is calling the management API.

Until authentication is configured every caller is anonymous and allowed; the authentication
module replaces `current_actor` with one that checks credentials.
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import Request

from moorage.domain.access import ANONYMOUS, Actor


async def current_actor(request: Request) -> Actor:
    actor = request.scope.get("moorage.actor")
    actor = actor if isinstance(actor, Actor) else ANONYMOUS
    if actor.source_address is None and request.client is not None:
        actor = replace(actor, source_address=request.client.host)
    return actor
