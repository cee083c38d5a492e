"""Prometheus metrics of lifecycle and GC, read from the recorded runs at scrape time.

The runs table is the one source of truth across processes, nodes and restarts, so the counters
are sums over it rather than in-process counters that each worker would hold a part of.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

_COUNTERS = {
    "gc_runs": ("moorage_gc_runs", "Completed garbage collection passes."),
    "gc_blobs_deleted": ("moorage_gc_blobs_deleted", "Blobs deleted by garbage collection."),
    "gc_bytes_freed": ("moorage_gc_bytes_freed", "Bytes freed by garbage collection."),
    "gc_uploads_purged": ("moorage_gc_uploads_purged", "Abandoned upload sessions purged."),
    "lifecycle_runs": ("moorage_lifecycle_runs", "Completed lifecycle policy runs."),
    "lifecycle_images_expired": ("moorage_lifecycle_images_expired", "Images expired by lifecycle policies."),
    "lifecycle_bytes_freed": ("moorage_lifecycle_bytes_freed", "Blob bytes released by expired images."),
}


class MaintenanceMetrics(Collector):
    def __init__(self, totals: Callable[[], dict[str, float]]) -> None:
        self.totals = totals

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        values = self.totals()
        for key, (name, documentation) in _COUNTERS.items():
            yield CounterMetricFamily(name, documentation, value=values[key])
        yield GaugeMetricFamily(
            "moorage_gc_last_duration_seconds",
            "Duration of the last completed garbage collection pass.",
            value=values["gc_last_duration_seconds"],
        )
