"""/api/v1/webhooks: subscriptions, their delivery log, redelivery and a test ping (docs/webhooks.md).

Only the admins of a subscription's repository or namespace (`ns/*`), or registry admins (for
registry-wide subscriptions and everything else), manage it or read its log; to anyone else a
subscription does not exist (404), so ids reveal nothing. The signing secret is in the answer to
a creation or a rotation and nowhere else. Changes go to the audit log (without the secret).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from moorage.api.manage.problems import Problem
from moorage.api.manage.security import Caller, CallerDep, current_actor
from moorage.domain.access import Action, Actor
from moorage.events.deliveries import STATES, DeliveryFilter, DeliveryLog
from moorage.events.errors import UnknownSubscription, WebhookError
from moorage.events.model import SUBSCRIBABLE
from moorage.events.scopes import REGISTRY_SCOPE, permission_pattern
from moorage.events.subscriptions import Subscription, Subscriptions
from moorage.events.webhooks import Webhooks

router = APIRouter(tags=["webhooks"])

ActorDep = Annotated[Actor, Depends(current_actor)]
SubscriptionId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The subscription's id.")]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The delivery's id.")]
EVENTS_HELP = f"Event types to hear (default: all): {', '.join(SUBSCRIBABLE)}."


class WebhookIn(BaseModel):
    scope_kind: Literal["repository", "namespace", "registry"] = Field(
        description="What the subscription hears: one repository, every repository under a namespace, or all."
    )
    scope: str = Field("", max_length=255, description="The repository or namespace name; `*` (or empty) for registry.")
    url: str = Field(max_length=2048, description="Where deliveries are POSTed (http or https).")
    events: list[str] | None = Field(None, max_length=16, description=EVENTS_HELP)
    enabled: bool = True
    description: str = Field("", max_length=500)


class WebhookPatch(BaseModel):
    url: str | None = Field(None, max_length=2048)
    events: list[str] | None = Field(None, max_length=16, description=EVENTS_HELP)
    enabled: bool | None = None
    description: str | None = Field(None, max_length=500)


class WebhookOut(BaseModel):
    id: int
    scope_kind: str
    scope: str
    url: str
    events: list[str]
    enabled: bool
    description: str
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, found: Subscription) -> WebhookOut:
        return cls(**{name: getattr(found, name) for name in cls.model_fields})


class WebhookWithSecret(WebhookOut):
    secret: str = Field(description="The signing secret: shown now and never again (rotate it if lost).")


class AttemptOut(BaseModel):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float


class DeliveryOut(BaseModel):
    id: int
    subscription_id: int
    event_id: str
    event_type: str
    repository: str | None
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    finished_at: datetime | None
    redelivery_of: int | None
    last_attempt: AttemptOut | None = None

    @classmethod
    def of(cls, row: dict[str, Any]) -> DeliveryOut:
        values = {name: row.get(name) for name in cls.model_fields}
        return cls(**values)


class DeliveryDetail(DeliveryOut):
    body: dict[str, Any] = Field(description="The event as sent (the signature is made per attempt).")
    attempt_log: list[AttemptOut]

    @classmethod
    def of(cls, row: dict[str, Any]) -> DeliveryDetail:
        values = {name: row.get(name) for name in cls.model_fields if name != "body"}
        values["last_attempt"] = row["attempt_log"][-1] if row["attempt_log"] else None
        return cls(body=json.loads(row["body"]), **values)


@contextlib.contextmanager
def problems() -> Iterator[None]:
    try:
        yield
    except WebhookError as error:
        raise Problem(error.status, error.title, str(error)) from None


def _webhooks(request: Request) -> Webhooks:
    found = request.app.state.webhooks
    assert isinstance(found, Webhooks)
    return found


def subscriptions(request: Request) -> Subscriptions:
    return _webhooks(request).subscriptions


def delivery_log(request: Request) -> DeliveryLog:
    return _webhooks(request).log


SubscriptionsDep = Annotated[Subscriptions, Depends(subscriptions)]
LogDep = Annotated[DeliveryLog, Depends(delivery_log)]


def _manages(caller: Caller, scope_kind: str, scope: str) -> bool:
    pattern = permission_pattern(scope_kind, scope)
    if pattern == REGISTRY_SCOPE:
        return caller.is_server_admin()
    return caller.may(pattern, Action.ADMIN)


def managed(service: Subscriptions, caller: Caller, subscription_id: int) -> Subscription:
    """The subscription, if the caller manages it; else 404, as if it did not exist."""
    with problems():
        found = service.get(subscription_id)
        if not _manages(caller, found.scope_kind, found.scope):
            raise UnknownSubscription(f"no webhook {subscription_id}")
    return found


@router.post(
    "/webhooks", status_code=201, summary="Subscribe a URL to a repository's, namespace's or the registry's events"
)
def create_webhook(body: WebhookIn, caller: CallerDep, actor: ActorDep, service: SubscriptionsDep) -> WebhookWithSecret:
    scope = REGISTRY_SCOPE if body.scope_kind == "registry" else body.scope
    if not _manages(caller, body.scope_kind, scope):
        who = "a registry administrator" if body.scope_kind == "registry" else f"an administrator of {scope}"
        raise Problem(403, "Forbidden", f"only {who} may subscribe to its events")
    with problems():
        found, secret = service.create(
            actor, body.scope_kind, scope, body.url, body.events, body.enabled, body.description
        )
    return WebhookWithSecret(**WebhookOut.of(found).model_dump(), secret=secret)


@router.get("/webhooks", summary="The subscriptions the caller manages")
def list_webhooks(
    caller: CallerDep,
    service: SubscriptionsDep,
    scope: Annotated[str | None, Query(max_length=255, pattern=r"^[^\x00-\x1f]*$")] = None,
) -> list[WebhookOut]:
    found = service.list(scope)
    return [WebhookOut.of(item) for item in found if _manages(caller, item.scope_kind, item.scope)]


@router.get("/webhooks/{subscription_id}", summary="One subscription (never its secret)")
def get_webhook(subscription_id: SubscriptionId, caller: CallerDep, service: SubscriptionsDep) -> WebhookOut:
    return WebhookOut.of(managed(service, caller, subscription_id))


@router.patch("/webhooks/{subscription_id}", summary="Change a subscription's URL, events, state or description")
def update_webhook(
    subscription_id: SubscriptionId, body: WebhookPatch, caller: CallerDep, actor: ActorDep, service: SubscriptionsDep
) -> WebhookOut:
    managed(service, caller, subscription_id)
    with problems():
        found = service.update(actor, subscription_id, body.url, body.events, body.enabled, body.description)
    return WebhookOut.of(found)


@router.delete("/webhooks/{subscription_id}", status_code=204, summary="Delete a subscription and its delivery log")
def delete_webhook(
    subscription_id: SubscriptionId, caller: CallerDep, actor: ActorDep, service: SubscriptionsDep
) -> Response:
    managed(service, caller, subscription_id)
    with problems():
        service.delete(actor, subscription_id)
    return Response(status_code=204)


@router.post(
    "/webhooks/{subscription_id}/rotate-secret",
    summary="Replace the signing secret (shown once); the next attempt is signed with the new one",
)
def rotate_webhook_secret(
    subscription_id: SubscriptionId, caller: CallerDep, actor: ActorDep, service: SubscriptionsDep
) -> WebhookWithSecret:
    managed(service, caller, subscription_id)
    with problems():
        found, secret = service.rotate_secret(actor, subscription_id)
    return WebhookWithSecret(**WebhookOut.of(found).model_dump(), secret=secret)


@router.get("/webhooks/{subscription_id}/deliveries", summary="The delivery log, newest first")
def list_deliveries(
    subscription_id: SubscriptionId,
    caller: CallerDep,
    service: SubscriptionsDep,
    log: LogDep,
    state: Annotated[Literal["pending", "delivered", "failed"] | None, Query()] = None,
    event_type: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z.]+$")] = None,
    repository: Annotated[str | None, Query(max_length=255, pattern=r"^[^\x00-\x1f]*$")] = None,
    before: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="Only deliveries older than this id (next page).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[DeliveryOut]:
    assert state is None or state in STATES
    found = managed(service, caller, subscription_id)
    rows = log.list(found, DeliveryFilter(state, event_type, repository, before, limit))
    return [DeliveryOut.of(row) for row in rows]


@router.get("/webhooks/{subscription_id}/deliveries/{delivery_id}", summary="One delivery: its body and every attempt")
def get_delivery(
    subscription_id: SubscriptionId, delivery_id: DeliveryId, caller: CallerDep, service: SubscriptionsDep, log: LogDep
) -> DeliveryDetail:
    found = managed(service, caller, subscription_id)
    with problems():
        return DeliveryDetail.of(log.get(found, delivery_id))


@router.post(
    "/webhooks/{subscription_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    summary="Send a delivery's event again (a new delivery, same event id), after the repository's pending ones",
)
def redeliver(
    subscription_id: SubscriptionId,
    delivery_id: DeliveryId,
    caller: CallerDep,
    actor: ActorDep,
    service: SubscriptionsDep,
    log: LogDep,
) -> DeliveryOut:
    found = managed(service, caller, subscription_id)
    with problems():
        return DeliveryOut.of(log.redeliver(actor, found, delivery_id))


@router.post(
    "/webhooks/{subscription_id}/ping",
    summary="Send a signed `ping` event now and answer with its delivery and attempt (not retried)",
)
def ping_webhook(
    subscription_id: SubscriptionId, caller: CallerDep, actor: ActorDep, service: SubscriptionsDep, log: LogDep
) -> DeliveryDetail:
    found = managed(service, caller, subscription_id)
    with problems():
        return DeliveryDetail.of(log.ping(actor, found))
