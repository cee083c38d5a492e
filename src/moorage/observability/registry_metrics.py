"""Metrics of what the registry holds, read from the metadata store at each scrape.

Storage used, blobs, manifests, repositories, uploads in progress and failed GC and lifecycle runs
are facts of the shared metadata store, so every worker and node reports the same values and a
restart loses nothing (the completed runs' totals are `gc.metrics.MaintenanceMetrics`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from moorage.metadata.registry_stats import RegistryStats


class RegistryMetrics(Collector):
    def __init__(self, stats: Callable[[], RegistryStats]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self.stats()
        yield GaugeMetricFamily(
            "moorage_storage_bytes", "Bytes of the blobs (layers, configs) the blob store holds.", stats.blob_bytes
        )
        yield GaugeMetricFamily("moorage_blobs", "Blobs the blob store holds.", stats.blobs)
        yield GaugeMetricFamily("moorage_manifests", "Manifests stored, across repositories.", stats.manifests)
        yield GaugeMetricFamily("moorage_repositories", "Repositories.", stats.repositories)
        yield GaugeMetricFamily(
            "moorage_jobs_queued", "Background jobs (scans) waiting or running, on every node.", stats.jobs_queued
        )
        yield GaugeMetricFamily(
            "moorage_uploads_in_progress", "Upload sessions open (started, not finished).", stats.uploads_in_progress
        )
        yield CounterMetricFamily(
            "moorage_gc_runs_failed", "Garbage collection passes that failed.", stats.gc_runs_failed
        )
        yield CounterMetricFamily(
            "moorage_lifecycle_runs_failed", "Lifecycle policy runs that failed.", stats.lifecycle_runs_failed
        )
