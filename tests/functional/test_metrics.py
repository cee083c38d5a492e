"""`/metrics` of a server with two HTTP workers: requests by route template and status, latency,
bytes, storage and uploads; every scrape sums all workers; the shipped dashboard and alert rules
use only metrics the server exports."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from moorage.observability.http_metrics import FLUSH_SECONDS
from tests.functional.helpers import push_blob, start_upload, unique_repo
from tests.support.server import RunningRegistry, start_server

DOCS = Path(__file__).resolve().parents[2] / "docs"
METRICS_TOKEN = "scraper-" + "0123456789abcdef"

# Exported by features merged beside this one (webhooks: events/metrics.py; background jobs); the
# drift check below skips them only while the server does not export them yet. Remove at merge.
PENDING_FROM_OTHER_FEATURES: set[str] = set()
"""Metric names the dashboard uses before the feature that exports them lands (none now)."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    settings = {
        "workers": "2",
        "gc_interval_seconds": "0",
        "lifecycle_interval_seconds": "0",
        "metrics_token": METRICS_TOKEN,
    }
    with start_server(tmp_path_factory.mktemp("metrics") / "data", **settings) as running:
        yield running


def scrape(server: RunningRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Each sample of one scrape, on a new connection (so either worker may answer)."""
    headers = {"Connection": "close", "Authorization": f"Bearer {METRICS_TOKEN}"}
    response = httpx.get(f"{server.url}/metrics", headers=headers)
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape_until(server: RunningRegistry, settled: Callable[[Samples], bool]) -> Samples:
    """A scrape once `settled` holds: each worker writes the requests it counted every second
    (`FLUSH_SECONDS`), so another worker's requests may take that long to show."""
    deadline = time.monotonic() + 10 * FLUSH_SECONDS
    while True:
        samples = scrape(server)
        if settled(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(FLUSH_SECONDS / 4)


def requests_counted(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], route: str, status: str) -> float:
    labels = (("method", "GET"), ("route", route), ("status", status))
    return samples.get(("moorage_http_requests_total", labels), 0.0)


def worker_processes(server: RunningRegistry, path: str) -> set[int]:
    lines = [json.loads(line) for line in server.log().splitlines() if '"moorage.access"' in line]
    return {line["process"] for line in lines if line["path"] == path}


def test_every_scrape_counts_the_requests_of_every_worker(server: RunningRegistry) -> None:
    path = "/v2/_catalog"
    sent = 0
    while len(worker_processes(server, path)) < 2:  # the kernel spreads new connections over the workers
        assert sent < 400, "one worker answered every request"
        for _ in range(10):
            assert httpx.get(f"{server.url}{path}", headers={"Connection": "close"}).status_code == 200
        sent += 10
    scrape_until(server, lambda samples: requests_counted(samples, path, "200") >= sent)
    for _ in range(6):  # each scrape, whichever worker answers it, counts every request once
        assert requests_counted(scrape(server), path, "200") == sent


def test_routes_are_templates_not_paths(server: RunningRegistry) -> None:
    repo = unique_repo("metrics")
    with httpx.Client(base_url=server.url) as client:
        push_blob(client, repo, b"layer bytes" * 100)
        assert client.get(f"/v2/{repo}/manifests/absent").status_code == 404
        assert client.get("/no/such/page").status_code == 404
        for made_up in ("BREW", "PROPFIND-X1", "PROPFIND-X2"):  # a client picks the method: no new series
            client.request(made_up, f"/v2/{repo}/tags/list")
    uploads = (("route", "/v2/{name}/blobs/uploads/{reference}"),)
    latency = (("le", "+Inf"), ("method", "GET"), ("route", "/v2/{name}/manifests/{reference}"))

    def counted(samples: Samples) -> bool:
        return (
            requests_counted(samples, "/v2/{name}/manifests/{reference}", "404") >= 1
            and requests_counted(samples, "/{path}", "404") >= 1  # the web UI takes every other path
            and samples.get(("moorage_http_request_bytes_total", uploads), 0) >= 1100
            and any(("method", "other") in labels for _, labels in samples)
        )

    samples = scrape_until(server, counted)
    assert counted(samples)
    text = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    assert repo not in text and "absent" not in text and "/no/such" not in text
    assert "BREW" not in text and "PROPFIND" not in text
    assert samples[("moorage_http_request_duration_seconds_bucket", latency)] >= 1


def test_storage_and_uploads_in_progress_come_from_the_metadata_store(server: RunningRegistry) -> None:
    repo = unique_repo("metrics")
    before = scrape(server)
    with httpx.Client(base_url=server.url) as client:
        push_blob(client, repo, b"x" * 5000)
        start_upload(client, repo)
    after = scrape(server)
    assert after[("moorage_storage_bytes", ())] - before[("moorage_storage_bytes", ())] == 5000
    assert after[("moorage_uploads_in_progress", ())] == before[("moorage_uploads_in_progress", ())] + 1
    assert after[("moorage_gc_runs_failed_total", ())] == 0


def _metric_names(expression: str) -> set[str]:
    return set(re.findall(r"\bmoorage_[a-z0-9_]+", expression))


def _dashboard_expressions() -> list[str]:
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    assert dashboard["panels"] and dashboard["schemaVersion"] >= 30
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    expressions += [str(variable.get("definition", "")) for variable in dashboard["templating"]["list"]]
    return expressions


def _alert_expressions() -> list[str]:
    rules = yaml.safe_load((DOCS / "prometheus-alerts.yml").read_text())
    expressions = []
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["alert"] and rule["expr"] and rule["annotations"]["summary"], rule
            expressions.append(rule["expr"])
    return expressions


def test_the_dashboard_and_alert_rules_use_only_metrics_the_server_exports(server: RunningRegistry) -> None:
    # The request metrics appear once a worker has written what it counted (the start-up probes at least).
    samples = scrape_until(server, lambda samples: any(name == "moorage_http_requests_total" for name, _ in samples))
    exported = {name for name, _labels in samples}
    used = set().union(*map(_metric_names, _dashboard_expressions() + _alert_expressions()))
    assert {"moorage_http_requests_total", "moorage_storage_bytes", "moorage_gc_runs_failed_total"} <= used
    missing = used - exported - (PENDING_FROM_OTHER_FEATURES - exported)
    assert not missing, f"used by docs/grafana-dashboard.json or docs/prometheus-alerts.yml, not exported: {missing}"


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token-0123456789", f"Basic {METRICS_TOKEN}", f"Bearer {METRICS_TOKEN}x"],
    ids=["none", "wrong", "not-bearer", "longer"],
)
def test_with_a_metrics_token_a_scraper_without_it_gets_nothing(
    server: RunningRegistry, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.get(f"{server.url}/metrics", headers=headers)
    assert response.status_code == 401
    assert "moorage_" not in response.text
    assert METRICS_TOKEN not in server.log()
