"""Prometheus counters of the pull-through cache, per upstream, counted in this process.

Stale answers and upstream failures are events of one process (a request it served), so unlike
GC's totals they are in-process counters: Prometheus sums them over the processes it scrapes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

_EVENTS = {
    "stale": ("moorage_proxy_stale_responses", "Cached tags served stale because the upstream could not be asked."),
    "upstream_error": (
        "moorage_proxy_upstream_errors",
        "Upstream requests that failed, timed out or were rate limited.",
    ),
    "fill": ("moorage_proxy_fills", "Manifests and blobs copied from an upstream into the cache."),
}


class ProxyMetrics(Collector):
    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()

    def count(self, event: str, upstream: str) -> None:
        self._counts[(event, upstream)] += 1

    def collect(self) -> Iterator[CounterMetricFamily]:
        for event, (name, documentation) in _EVENTS.items():
            family = CounterMetricFamily(name, documentation, labels=["upstream"])
            for (counted, upstream), value in sorted(self._counts.items()):
                if counted == event:
                    family.add_metric([upstream], value)
            yield family
