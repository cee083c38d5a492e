"""`/metrics`: the in-process metrics of every worker plus the collectors that read shared state.

Two kinds of metrics, and where to add one:
- **Facts in the metadata store** (storage used, uploads in progress, GC and lifecycle runs, a job
  queue's depth, webhook deliveries): a `prometheus_client` `Collector` whose `collect()` queries
  at scrape time. It is right across processes, nodes and restarts by construction; pass it in the
  `collectors` list where the app is composed (`app.py`).
- **Events counted as they happen in one process** (requests, retries): `prometheus_client`
  `Counter`/`Histogram` objects created with `registry=in_process_registry(...)`. When the
  `PROMETHEUS_MULTIPROC_DIR` variable is set (as `moorage serve` does) they live in files shared by
  the workers; otherwise in the exposition registry directly. A custom `Collector` that keeps
  in-process counts would show only the answering worker's part: use metric objects instead.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable, Iterable

import anyio.to_thread
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from moorage.observability import MULTIPROCESS_DIRECTORY_VARIABLE


def multiprocess_directory() -> str | None:
    return os.environ.get(MULTIPROCESS_DIRECTORY_VARIABLE) or None


def exposition_registry(collectors: Iterable[Collector]) -> CollectorRegistry:
    """What `/metrics` serves: every worker's in-process metrics (or this process's) and the shared collectors."""
    registry = CollectorRegistry(auto_describe=True)
    directory = multiprocess_directory()
    if directory is not None:
        MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
    for collector in collectors:
        registry.register(collector)
    return registry


def in_process_registry(exposition: CollectorRegistry) -> CollectorRegistry | None:
    """Where in-process metric objects register: nowhere in multiprocess mode (their files are read instead)."""
    return None if multiprocess_directory() is not None else exposition


def metrics_endpoint(
    registry: CollectorRegistry, token: str | None = None, before: Callable[[], None] = lambda: None
) -> Callable[[Request], Awaitable[Response]]:
    """The `/metrics` handler; with `token`, only a scraper that sends it as a bearer token is answered.
    `before` runs first at each scrape (the request metrics write this worker's tallies)."""
    expected = f"Bearer {token}".encode() if token else None

    def exposition() -> bytes:
        before()
        return generate_latest(registry)

    async def metrics(request: Request) -> Response:
        if expected is not None:
            sent = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(sent, expected):
                return Response(
                    "the metrics need the bearer token configured as metrics_token\n",
                    status_code=401,
                    media_type="text/plain",
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
        # Collectors query the metadata store: off the event loop.
        body = await anyio.to_thread.run_sync(exposition)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return metrics
