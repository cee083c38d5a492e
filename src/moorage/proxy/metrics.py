"""Prometheus counters of the pull-through cache, per upstream, counted where they happen.

Stale answers, upstream failures and fills are events of one process (a request it served). They
are `prometheus_client` counters: under `moorage serve` with several workers they live in the
shared multiprocess files, so any worker's `/metrics` shows every worker's counts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import Counter
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from moorage.observability import MULTIPROCESS_DIRECTORY_VARIABLE

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
        # Registered nowhere: this collector hands them out itself, or the multiprocess files do.
        self._counters = {
            event: Counter(name, documentation, ["upstream"], registry=None)
            for event, (name, documentation) in _EVENTS.items()
        }

    def count(self, event: str, upstream: str) -> None:
        self._counters[event].labels(upstream).inc()

    def collect(self) -> Iterator[Metric]:
        if os.environ.get(MULTIPROCESS_DIRECTORY_VARIABLE):
            return
        for counter in self._counters.values():
            yield from counter.collect()
