"""Request metrics: counts by route template and status, latency histograms, bytes in and out.

These are in-process counters (`prometheus_client` metric objects). With several HTTP workers each
process holds only its own part, so `moorage serve` runs them in prometheus_client's multiprocess
mode: every worker writes its values to a file in a directory the supervisor made fresh at start,
and `/metrics` (whichever worker answers) sums all the files (see `metrics_endpoint`).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

# Pulls of small manifests take milliseconds; blob transfers and pushes take seconds to minutes.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class HttpMetrics:
    """The four families the middleware feeds; `registry` is None in multiprocess mode (files, not a registry)."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
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

        # The labelled children, looked up once per (method, route, status): `labels()` takes a lock
        # and builds a tuple each call, a measurable part of a cached manifest GET.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram, Counter, Counter]] = {}

    def observe(self, method: str, route: str, status: int, duration: float, bytes_in: int, bytes_out: int) -> None:
        if method not in METHODS:
            method = "other"  # a client chooses the method: it must not choose new series
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.duration.labels(method, route),
                self.bytes_in.labels(route),
                self.bytes_out.labels(route),
            )
            self._children[key] = children
        requests, duration_of, received, sent = children
        requests.inc()
        duration_of.observe(duration)
        if bytes_in:
            received.inc(bytes_in)
        if bytes_out:
            sent.inc(bytes_out)
