"""Scan on push of cached images: the scanner fetches the layers no client pulled yet, through the cache.

A pull through the cache stores the manifest first and each layer only when a client asks for it.
A creation template with scan on push scans the cached image as soon as its manifest is stored,
before a client asked for any layer: the scan must still end COMPLETE, with the image's packages.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.functional.cli_support import AUTH_SETTINGS
from tests.functional.governance_helpers import eventually
from tests.functional.helpers import MANIFEST_ACCEPT, index_manifest, push_manifest, unique_repo
from tests.functional.test_scan_on_push import RECORDS, VULNERABLE, finished, push_debian_image, scan_of, scanner_sboms
from tests.support.auth import ADMIN, ADMIN_PASSWORD, api, client_for
from tests.support.faulty_proxy import FaultyProxy, faulty_proxy
from tests.support.server import RunningRegistry, postgres_database, start_server

FAST = {"job_poll_seconds": "0.1", "job_retry_seconds": "0"}


@pytest.fixture(params=["sqlite", "postgres"])
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningRegistry]:
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(postgres_database()) if request.param == "postgres" else None
        server = stack.enter_context(start_server(tmp_path / "cache", database_url, **AUTH_SETTINGS, **FAST))
        with api(server) as admin:
            for record in RECORDS:
                imported = admin.post(
                    "/vulnerability-database/imports", params={"source": "synthetic"}, content=json.dumps(record)
                )
                assert imported.status_code == 200, imported.text
            template = admin.put("/creation-templates/up", json={"create_on_push": True, "scan_on_push": True})
            assert template.status_code == 200, template.text
        yield server


@dataclass
class Setup:
    proxy: FaultyProxy
    pusher: httpx.Client
    """Pushes to the upstream (anonymous, no auth there)."""
    puller: httpx.Client
    """Pulls through the cache, as its admin."""
    admin: httpx.Client


@contextlib.contextmanager
def _upstream_behind_a_rule(tmp_path: Path, cache: RunningRegistry) -> Iterator[Setup]:
    """An upstream moorage, a counting proxy in front of it, and the rule `up` caching it through the proxy."""
    with (
        start_server(tmp_path / "upstream") as upstream,
        faulty_proxy(upstream.url) as proxy,
        httpx.Client(base_url=upstream.url, timeout=30) as pusher,
        client_for(cache, (ADMIN, ADMIN_PASSWORD)) as puller,
        api(cache) as admin,
    ):
        assert admin.post("/cache-rules", json={"prefix": "up", "upstream_url": proxy.url}).status_code == 201
        yield Setup(proxy, pusher, puller, admin)


def _audit(cache: RunningRegistry, repository: str) -> list[dict[str, Any]]:
    with api(cache) as admin:
        response = admin.get("/audit", params={"action": "proxy.fill", "repository": repository})
        assert response.status_code == 200, response.text
        return list(response.json()["entries"])


def test_a_cached_image_is_scanned_complete_though_no_client_pulled_its_layers(
    tmp_path: Path, cache: RunningRegistry
) -> None:
    repo = unique_repo("lib/scanned")
    with _upstream_behind_a_rule(tmp_path, cache) as setup:
        proxy, puller = setup.proxy, setup.puller
        image = push_debian_image(setup.pusher, repo, "v1", VULNERABLE, {"moorage-testpy": "1.5.0"})
        # The client reads the manifest only (as a client does before its layers, or a `HEAD` of a tag).
        pulled = puller.get(f"/v2/up/{repo}/manifests/v1", headers={"Accept": MANIFEST_ACCEPT})
        assert pulled.status_code == 200, pulled.text
        assert pulled.headers["docker-content-digest"] == image.digest
        answer = finished(setup.admin, f"up/{repo}", "v1")
        scan = answer["scan"]
        assert scan["status"] == "COMPLETE", scan
        assert [f["id"] for f in answer["findings"]] == ["MOORAGE-TEST-0001", "MOORAGE-TEST-0002"]
        # The packages, as the SBOM the scan pushed beside the cached image lists them.
        [sbom] = eventually(lambda: scanner_sboms(puller, f"up/{repo}", image.digest))
        manifest = puller.get(f"/v2/up/{repo}/manifests/{sbom['digest']}").json()
        document = puller.get(f"/v2/up/{repo}/blobs/{manifest['layers'][0]['digest']}").json()
        names = {component["name"] for component in document.get("components", [])}
        assert {"moorage-testlib", "base-files", "moorage-testpy"} <= names
        # The scanner's pull: each layer fetched once, audited as a fill by the scanner.
        layers = [layer["digest"] for layer in image.document["layers"]]
        assert sorted(path.rsplit("/", 1)[1] for path in proxy.blob_gets) == sorted(layers)
        by_scanner = {e["target"] for e in _audit(cache, f"up/{repo}") if e["actor"]["name"] == "scanner"}
        assert by_scanner == set(layers)
        # The layers are cached now: a client's pull of them asks the upstream nothing more.
        for layer in layers:
            assert puller.get(f"/v2/up/{repo}/blobs/{layer}").status_code == 200
        assert len(proxy.blob_gets) == len(layers)


def test_a_cached_images_scan_whose_layers_cannot_be_fetched_fails_naming_the_layer_and_upstream(
    tmp_path: Path, cache: RunningRegistry
) -> None:
    repo = unique_repo("lib/unreachable")
    with _upstream_behind_a_rule(tmp_path, cache) as setup:
        proxy, puller, admin = setup.proxy, setup.puller, setup.admin
        image = push_debian_image(setup.pusher, repo, "v1", VULNERABLE)
        proxy.fail_blobs = True  # the upstream serves manifests but answers 503 to every blob
        pulled = puller.get(f"/v2/up/{repo}/manifests/v1", headers={"Accept": MANIFEST_ACCEPT})
        assert pulled.status_code == 200, pulled.text
        scan = finished(admin, f"up/{repo}", "v1")["scan"]
    assert scan["status"] == "FAILED", scan
    assert image.document["layers"][0]["digest"] in scan["reason"] and proxy.url in scan["reason"], scan


def test_a_cached_index_reports_pending_until_each_platform_was_pulled_and_scanned(
    tmp_path: Path, cache: RunningRegistry
) -> None:
    repo = unique_repo("lib/multi")
    with _upstream_behind_a_rule(tmp_path, cache) as setup:
        amd64 = push_debian_image(setup.pusher, repo, None, VULNERABLE)
        arm64 = push_debian_image(setup.pusher, repo, None, VULNERABLE, {"moorage-testpy": "1.0"})
        index = push_manifest(setup.pusher, repo, index_manifest([amd64, arm64]), "multi")
        for reference in ("multi", amd64.digest):  # a client on amd64: the index, then its platform
            pulled = setup.puller.get(f"/v2/up/{repo}/manifests/{reference}", headers={"Accept": MANIFEST_ACCEPT})
            assert pulled.status_code == 200, pulled.text
        assert finished(setup.admin, f"up/{repo}", amd64.digest)["scan"]["status"] == "COMPLETE"
        # arm64 was never asked for: nothing of it is fetched, and the index is not reported as failed.
        answer = scan_of(setup.admin, f"up/{repo}", "multi")
        assert answer["digest"] == index.digest and answer["scan"]["status"] == "PENDING", answer
        assert not [path for path in setup.proxy.blob_gets if arm64.document["layers"][0]["digest"] in path]
        pulled = setup.puller.get(f"/v2/up/{repo}/manifests/{arm64.digest}", headers={"Accept": MANIFEST_ACCEPT})
        assert pulled.status_code == 200
        assert finished(setup.admin, f"up/{repo}", "multi")["scan"]["status"] == "COMPLETE"
