"""Prometheus metrics of webhooks: failed attempts and deliveries (counted where they happen), the queue's depth.

Attempts are counted by the process that made them, in `prometheus_client` counters: under
`moorage serve` with several workers those live in the shared multiprocess files, so any worker's
`/metrics` shows every worker's counts (docs/operations.md, "Metrics"). The queue's depth is read
from the metadata store at scrape time, the same for every process and node.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from moorage.observability import MULTIPROCESS_DIRECTORY_VARIABLE


class WebhookMetrics(Collector):
    def __init__(self, queue_depth: Callable[[], int]) -> None:
        self.queue_depth = queue_depth
        # Registered nowhere: this collector hands them out itself, or the multiprocess files do.
        self._failed_attempts = Counter(
            "moorage_webhook_delivery_failures",
            "Webhook delivery attempts that failed (error, timeout or non-2xx answer); each may be retried.",
            registry=None,
        )
        self._failed_deliveries = Counter(
            "moorage_webhook_deliveries_failed", "Webhook deliveries given up after their last attempt.", registry=None
        )
        self._delivered = Counter(
            "moorage_webhook_deliveries", "Webhook deliveries a receiver accepted.", registry=None
        )

    def attempt_finished(self, succeeded: bool, gave_up: bool) -> None:
        if succeeded:
            self._delivered.inc()
        else:
            self._failed_attempts.inc()
            if gave_up:
                self._failed_deliveries.inc()

    def collect(self) -> Iterator[Metric]:
        if not os.environ.get(MULTIPROCESS_DIRECTORY_VARIABLE):
            for counter in (self._failed_attempts, self._failed_deliveries, self._delivered):
                yield from counter.collect()
        yield GaugeMetricFamily(
            "moorage_webhook_queue_depth",
            "Webhook deliveries pending (waiting, retrying or in flight).",
            value=self.queue_depth(),
        )
