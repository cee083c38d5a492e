"""Webhooks, composed: subscriptions, the registry hook that queues events, the worker that delivers them.

The app builds one `Webhooks` (app.py), adds `hook` to the registry's hooks, starts and stops
`worker` with the server, registers `metrics`, and hands `subscriptions` and `log` to the
management API. Everything durable is in the metadata store, so any process or node may queue,
deliver, or show the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from moorage.auth.secret_box import SecretBox
from moorage.events.deliveries import DeliveryLog
from moorage.events.delivery import Sender
from moorage.events.hook import WebhookHook
from moorage.events.metrics import WebhookMetrics
from moorage.events.retry import RetryPolicy
from moorage.events.subscriptions import AuditRecord, Subscriptions
from moorage.events.targets import TargetPolicy
from moorage.events.trust import receivers_trust
from moorage.events.worker import DeliveryWorker
from moorage.metadata import webhooks as queries
from moorage.metadata.database import Database


@dataclass(frozen=True)
class WebhookSettings:
    allow_private_targets: bool = False
    timeout: float = 10.0
    max_attempts: int = 8
    retry_base: float = 10.0
    retry_max: float = 3600.0
    poll_interval: float = 1.0
    concurrency: int = 4
    registry_host: str | None = None
    log_retention_days: float = 30.0
    """0: keep the delivery log for ever."""
    ca_file: Path | None = None
    """Certificate authorities trusted for HTTPS receivers besides the system's."""


@dataclass(frozen=True)
class Webhooks:
    subscriptions: Subscriptions
    log: DeliveryLog
    hook: WebhookHook
    worker: DeliveryWorker
    metrics: WebhookMetrics

    @classmethod
    def build(cls, database: Database, box: SecretBox, audit: AuditRecord, settings: WebhookSettings) -> Webhooks:
        policy = TargetPolicy(settings.allow_private_targets)

        def queue_depth() -> int:
            with database.read() as connection:
                return queries.queue_depth(connection)

        metrics = WebhookMetrics(queue_depth)
        retry = RetryPolicy(settings.max_attempts, settings.retry_base, settings.retry_max)
        sender = Sender(policy, settings.timeout, receivers_trust(settings.ca_file))
        retention = timedelta(days=settings.log_retention_days) if settings.log_retention_days else None
        worker = DeliveryWorker(
            database, box, sender, retry, metrics, settings.poll_interval, settings.concurrency, retention
        )
        return cls(
            subscriptions=Subscriptions(database, box, policy, audit),
            log=DeliveryLog(database, worker, audit),
            hook=WebhookHook(settings.registry_host),
            worker=worker,
            metrics=metrics,
        )
