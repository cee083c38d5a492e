"""Request metrics counted in memory and written in batches expose what one write per request would."""

from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from moorage.observability.http_metrics import LATENCY_BUCKETS, HttpMetrics

ROUTE = "/v2/{name}/manifests/{reference}"
REQUESTS = [
    ("GET", 200, 0.0004, 0, 512),
    ("GET", 200, 0.005, 0, 512),  # on a bound: counted in that bucket, as Histogram.observe does
    ("GET", 200, 0.0051, 0, 512),
    ("GET", 404, 0.3, 0, 120),
    ("PUT", 201, 12.5, 2048, 0),
    ("GET", 200, 900.0, 0, 512),  # beyond the last bound: +Inf only
    ("BREW", 405, 0.001, 0, 0),
]


def one_write_per_request() -> bytes:
    """The same families fed the plain way, one `inc`/`observe` per request."""
    registry = CollectorRegistry()
    requests = Counter("moorage_http_requests", "", ("method", "route", "status"), registry=registry)
    duration = Histogram(
        "moorage_http_request_duration_seconds", "", ("method", "route"), buckets=LATENCY_BUCKETS, registry=registry
    )
    bytes_in = Counter("moorage_http_request_bytes", "", ("route",), registry=registry)
    bytes_out = Counter("moorage_http_response_bytes", "", ("route",), registry=registry)
    for method, status, seconds, received, sent in REQUESTS:
        method = method if method != "BREW" else "other"
        requests.labels(method, ROUTE, str(status)).inc()
        duration.labels(method, ROUTE).observe(seconds)
        if received:
            bytes_in.labels(ROUTE).inc(received)
        if sent:
            bytes_out.labels(ROUTE).inc(sent)
    return generate_latest(registry)


def samples(exposition: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample by name and labels, but creation times (those differ by construction)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition.decode())
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_a_flush_exposes_what_one_write_per_request_would() -> None:
    registry = CollectorRegistry()
    metrics = HttpMetrics(registry, flush_seconds=3600)
    for method, status, seconds, received, sent in REQUESTS:
        metrics.observe(method, ROUTE, status, seconds, received, sent)
    assert "moorage_http_requests_total{" not in generate_latest(registry).decode()  # not written yet
    metrics.flush()
    # Sums compare as floats: added in another order, they may differ in the last digit.
    expected = pytest.approx(samples(one_write_per_request()))
    assert samples(generate_latest(registry)) == expected
    metrics.flush()  # nothing new: nothing added twice
    assert samples(generate_latest(registry)) == expected


def test_the_flushing_thread_writes_without_a_scrape() -> None:
    registry = CollectorRegistry()
    metrics = HttpMetrics(registry, flush_seconds=0.05)
    metrics.observe("GET", ROUTE, 200, 0.001, 0, 10)
    deadline = time.monotonic() + 10
    while 'moorage_http_requests_total{method="GET"' not in generate_latest(registry).decode():
        assert time.monotonic() < deadline, "the tally was never written"
        time.sleep(0.02)
    metrics.close()
    metrics.observe("GET", ROUTE, 200, 0.001, 0, 10)
    metrics.close()  # a stop writes what is left
    assert (
        f'moorage_http_requests_total{{method="GET",route="{ROUTE}",status="200"}} 2.0'
        in generate_latest(registry).decode()
    )
