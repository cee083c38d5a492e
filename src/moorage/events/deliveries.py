"""The delivery log of a subscription, redelivery on demand, and the test ping.

A redelivery is a new delivery with the same body and event id (receivers that saw the first one
deduplicate), queued behind the repository's pending deliveries; the log keeps both with their
attempts. A ping is sent at once, outside any repository's order, and its attempt returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moorage.domain.access import Actor
from moorage.events.errors import UnknownDelivery
from moorage.events.model import Event, EventType
from moorage.events.subscriptions import AuditRecord, Subscription
from moorage.events.worker import DeliveryWorker
from moorage.metadata import webhooks as queries
from moorage.metadata.common import now
from moorage.metadata.database import Database

STATES = (queries.PENDING, queries.DELIVERED, queries.FAILED)


@dataclass(frozen=True)
class DeliveryFilter:
    state: str | None = None
    event_type: str | None = None
    repository: str | None = None
    before: int | None = None
    """Only deliveries with a smaller id (the next page: the last id of this one)."""
    limit: int = 50


class DeliveryLog:
    def __init__(self, database: Database, worker: DeliveryWorker, audit: AuditRecord) -> None:
        self.database = database
        self.worker = worker
        self.audit = audit

    def list(self, subscription: Subscription, where: DeliveryFilter) -> list[dict[str, Any]]:
        with self.database.read() as connection:
            return queries.deliveries(
                connection, subscription.id, where.state, where.event_type, where.repository, where.before, where.limit
            )

    def get(self, subscription: Subscription, delivery_id: int) -> dict[str, Any]:
        with self.database.read() as connection:
            found = queries.delivery(connection, delivery_id)
        if found is None or found["subscription_id"] != subscription.id:
            raise UnknownDelivery(f"webhook {subscription.id} has no delivery {delivery_id}")
        return found

    def redeliver(self, actor: Actor, subscription: Subscription, delivery_id: int) -> dict[str, Any]:
        original = self.get(subscription, delivery_id)
        with self.database.write() as connection:
            row = {key: original[key] for key in ("subscription_id", "event_id", "event_type", "repository", "body")}
            (new_id,) = queries.enqueue(connection, [{**row, "created_at": now(), "redelivery_of": delivery_id}])
            detail = {"delivery": delivery_id, "redelivery": new_id, "event_id": original["event_id"]}
            self.audit(
                "webhook.redeliver",
                actor,
                subscription.repository,
                f"webhook {subscription.id}",
                "success",
                detail,
                connection,
            )
        self.worker.wake()
        return self.get(subscription, new_id)

    def ping(self, actor: Actor, subscription: Subscription) -> dict[str, Any]:
        """Send a `ping` event now (even to a disabled subscription) and return its delivery and attempt."""
        scope = subscription.scope
        event = Event(EventType.PING, scope, actor, data={"webhook": subscription.id, "scope": scope})
        moment = now()
        row: dict[str, Any] = {
            "subscription_id": subscription.id,
            "event_id": event.id,
            "event_type": event.type,
            "repository": None,  # outside every repository's order: a ping neither waits nor holds anything up
            "body": event.body(),
            "created_at": moment,
            "lease_holder": self.worker.holder,
            "lease_until": moment + self.worker.lease_ttl,
        }
        with self.database.write() as connection:
            (delivery_id,) = queries.enqueue(connection, [row])
            sealed = queries.sealed_secret(connection, subscription.id)
            self.audit(
                "webhook.ping", actor, subscription.repository, f"webhook {subscription.id}", "success", {}, connection
            )
        retry = self.worker.retry
        claimed = {**row, "id": delivery_id, "attempts": retry.max_attempts - 1, "url": subscription.url}
        claimed["secret_encrypted"] = sealed
        self.worker.attempt(claimed)  # the last attempt allowed: a failed ping is not retried
        return self.get(subscription, delivery_id)
