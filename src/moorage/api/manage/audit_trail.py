"""Recording permission and settings changes made through the management API in the audit log.

Every such change (accounts, teams, robots, access tokens, issuers and their rules) goes to the
audit log with who made it, from which address, what it was before and what it is now; never a
secret (a password change is recorded as `password_changed`, a new secret not at all).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import Request

from moorage.api.manage.security import Caller


def record_change(
    request: Request,
    caller: Caller,
    action: str,
    target: str | None,
    before: Any = None,
    after: Any = None,
    **detail: Any,
) -> None:
    """Append `action` on `target` to the audit log; `before`/`after` are the changed settings (JSON)."""
    governance = getattr(request.app.state, "governance", None)
    if governance is None:
        return
    actor = caller.actor
    if actor.source_address is None and request.client is not None:
        actor = replace(actor, source_address=request.client.host)
    document = dict(detail)
    if before is not None:
        document["before"] = before
    if after is not None:
        document["after"] = after
    governance.audit.record(action, actor, target=target, detail=document or None)
