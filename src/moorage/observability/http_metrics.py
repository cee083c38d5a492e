"""Request metrics: counts by route template and status, latency histograms, bytes in and out.

These are in-process counters (`prometheus_client` metric objects). With several HTTP workers each
process holds only its own part, so `moorage serve` runs them in prometheus_client's multiprocess
mode: every worker writes its values to a file in a directory the supervisor made fresh at start,
and `/metrics` (whichever worker answers) sums all the files (see `metrics_endpoint`).

A request does not write those files itself: in multiprocess mode each value written costs a lock,
a process-id check and a write into the shared file, four of them per request, about 15 µs of a
cached manifest GET that takes a few hundred (docs/benchmarks.md). It adds to a tally in memory
instead; a thread writes the tallies every `FLUSH_SECONDS`, and the worker answering `/metrics`
writes its own first. A scrape therefore sees every request another worker answered more than
`FLUSH_SECONDS` ago, and every request of the worker it asks.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram

# Pulls of small manifests take milliseconds; blob transfers and pushes take seconds to minutes.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
FLUSH_SECONDS = 1.0

Series = tuple[str, str, int]
"""method, route template, status."""


@dataclass(slots=True)
class Tally:
    """What one series counted since the last flush."""

    requests: int = 0
    seconds: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    """Requests per latency bucket, not cumulative (the last one is +Inf), as prometheus_client keeps them."""
    bytes_in: int = 0
    bytes_out: int = 0


class HttpMetrics:
    """The four families the middleware feeds; `registry` is None in multiprocess mode (files, not a registry)."""

    def __init__(self, registry: CollectorRegistry | None, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.requests = Counter(
            "moorage_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
            registry=registry,
        )
        self.duration = Histogram(
            "moorage_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response, by method and route template.",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.bytes_in = Counter(
            "moorage_http_request_bytes",
            "Request body bytes received, by route template.",
            ("route",),
            registry=registry,
        )
        self.bytes_out = Counter(
            "moorage_http_response_bytes", "Response body bytes sent, by route template.", ("route",), registry=registry
        )
        self.flush_seconds = flush_seconds
        self._pending: dict[Series, Tally] = {}
        self._lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()

    def observe(self, method: str, route: str, status: int, duration: float, bytes_in: int, bytes_out: int) -> None:
        """Count one answered request (in memory; see the module docstring)."""
        if method not in METHODS:
            method = "other"  # a client chooses the method: it must not choose new series
        bucket = bisect.bisect_left(LATENCY_BUCKETS, duration)  # the first bound >= duration, as Histogram
        with self._lock:
            tally = self._pending.get((method, route, status))
            if tally is None:
                tally = self._pending[(method, route, status)] = Tally()
            tally.requests += 1
            tally.seconds += duration
            tally.buckets[bucket] += 1
            tally.bytes_in += bytes_in
            tally.bytes_out += bytes_out
        if self._flusher is None:
            self._start_flusher()

    def flush(self) -> None:
        """Write what was counted into the metric objects (the shared files in multiprocess mode)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for (method, route, status), tally in pending.items():
            # Every series a request touched is exported, at 0 bytes too (dashboards rate() them).
            requests = self.requests.labels(method, route, str(status))
            histogram = self.duration.labels(method, route)
            received, sent = self.bytes_in.labels(route), self.bytes_out.labels(route)
            requests.inc(tally.requests)
            # Histogram.observe takes one value at a time; these are the two parts it adds to.
            histogram._sum.inc(tally.seconds)
            for index, count in enumerate(tally.buckets):
                if count:
                    histogram._buckets[index].inc(count)
            if tally.bytes_in:
                received.inc(tally.bytes_in)
            if tally.bytes_out:
                sent.inc(tally.bytes_out)

    def close(self) -> None:
        """Stop the flushing thread and write what is left."""
        self._stop.set()
        self.flush()

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher is not None:
                return
            # Started on the first request, so in the worker that serves it (never in a parent that forks).
            self._flusher = threading.Thread(
                target=self._flush_every_interval, name="moorage-http-metrics", daemon=True
            )
        self._flusher.start()

    def _flush_every_interval(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()
