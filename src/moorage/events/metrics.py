"""Prometheus metrics of webhooks: failed attempts and deliveries (this process), the queue's depth (all).

Failures are counted by the process that made the attempt (Prometheus sums counters over
processes); the queue's depth is read from the metadata store at scrape time, the same for every
process and node.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector


class WebhookMetrics(Collector):
    def __init__(self, queue_depth: Callable[[], int]) -> None:
        self.queue_depth = queue_depth
        self._lock = threading.Lock()
        self._failed_attempts = 0
        self._failed_deliveries = 0
        self._delivered = 0

    def attempt_finished(self, succeeded: bool, gave_up: bool) -> None:
        with self._lock:
            if succeeded:
                self._delivered += 1
            else:
                self._failed_attempts += 1
                self._failed_deliveries += int(gave_up)

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        with self._lock:
            failed_attempts, failed, delivered = self._failed_attempts, self._failed_deliveries, self._delivered
        yield CounterMetricFamily(
            "moorage_webhook_delivery_failures",
            "Webhook delivery attempts that failed (error, timeout or non-2xx answer); each may be retried.",
            value=failed_attempts,
        )
        yield CounterMetricFamily(
            "moorage_webhook_deliveries_failed", "Webhook deliveries given up after their last attempt.", value=failed
        )
        yield CounterMetricFamily(
            "moorage_webhook_deliveries", "Webhook deliveries a receiver accepted.", value=delivered
        )
        yield GaugeMetricFamily(
            "moorage_webhook_queue_depth",
            "Webhook deliveries pending (waiting, retrying or in flight).",
            value=self.queue_depth(),
        )
