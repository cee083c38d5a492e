"""Online garbage collection through HTTP: the upload/GC/manifest race, grace periods, dry runs,
abandoned uploads, metrics and the CLI. Each test runs a private server with a short grace period."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.functional.helpers import (
    MANIFEST_ACCEPT,
    Manifest,
    image_manifest,
    push_blob,
    push_image,
    push_manifest,
    random_bytes,
    sha256,
    start_upload,
    unique_repo,
)
from tests.support.server import RunningRegistry, postgres_database, start_server

NO_SCHEDULE = {"gc_interval_seconds": "0", "lifecycle_interval_seconds": "0"}


@contextlib.contextmanager
def private_registry(data_dir: Path, backend: str, **settings: str) -> Iterator[RunningRegistry]:
    """A server of its own on SQLite or PostgreSQL, without the background schedule unless asked."""
    options = {**NO_SCHEDULE, **settings}
    if backend == "postgres":
        with postgres_database() as url, start_server(data_dir, database_url=url, **options) as server:
            yield server
    else:
        with start_server(data_dir, **options) as server:
            yield server


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def client(server: RunningRegistry) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=120, headers={"Accept": MANIFEST_ACCEPT})


def gc(http: httpx.Client, dry_run: bool = False) -> dict[str, Any]:
    response = http.post("/api/v1/gc", params={"dry_run": str(dry_run).lower()})
    assert response.status_code == 200, response.text
    return dict(response.json())


def blob_digests(manifest: Manifest) -> list[str]:
    document = manifest.document
    return [document["config"]["digest"], *(layer["digest"] for layer in document["layers"])]


def pull_completely(http: httpx.Client, repo: str, reference: str) -> None:
    """Pull a manifest and every blob it references, verifying every digest."""
    response = http.get(f"/v2/{repo}/manifests/{reference}")
    assert response.status_code == 200, f"{repo}:{reference}: {response.status_code} {response.text}"
    if reference.startswith("sha256:"):
        assert sha256(response.content) == reference
    document = response.json()
    for descriptor in [document.get("config"), *document.get("layers", [])]:
        if descriptor is None:
            continue
        blob = http.get(f"/v2/{repo}/blobs/{descriptor['digest']}", follow_redirects=True)
        assert blob.status_code == 200, f"{repo}: blob {descriptor['digest']} lost: {blob.status_code}"
        assert sha256(blob.content) == descriptor["digest"]


def blob_file(server: RunningRegistry, digest: str) -> Path:
    assert server.data_dir is not None
    hex_digest = digest.split(":", 1)[1]
    return server.data_dir / "blobs" / "sha256" / hex_digest[:2] / hex_digest


def test_a_layer_uploaded_before_a_gc_pass_is_there_for_the_manifest_put_after_it(tmp_path: Path, backend: str) -> None:
    with private_registry(tmp_path / "data", backend, gc_grace_period_seconds="30") as server, client(server) as http:
        repo = unique_repo("gc")
        config = push_blob(http, repo, b'{"architecture":"amd64","os":"linux"}')
        layer = push_blob(http, repo, random_bytes(4096))
        report = gc(http)
        assert report["blobs_deleted"] == 0
        manifest = push_manifest(http, repo, image_manifest(config, [layer]), "v1")
        pull_completely(http, repo, "v1")
        pull_completely(http, repo, manifest.digest)


def test_released_blobs_go_after_the_grace_period_and_referenced_blobs_never(tmp_path: Path, backend: str) -> None:
    with private_registry(tmp_path / "data", backend, gc_grace_period_seconds="1") as server, client(server) as http:
        repo = unique_repo("gc")
        kept = push_image(http, repo, "kept", layer_count=2)
        doomed = push_image(http, repo, "doomed", layer_count=2)
        assert http.delete(f"/v2/{repo}/manifests/{doomed.digest}").status_code == 202
        assert gc(http)["blobs_deleted"] == 0  # released just now: inside the grace period
        time.sleep(1.5)

        dry = gc(http, dry_run=True)
        doomed_blobs = blob_digests(doomed)
        assert dry["dry_run"] and dry["blobs_deleted"] == len(doomed_blobs) and dry["bytes_freed"] > 0
        assert all(blob_file(server, digest).exists() for digest in doomed_blobs)

        report = gc(http)
        assert report["blobs_deleted"] == len(doomed_blobs)
        assert report["bytes_freed"] == dry["bytes_freed"]
        assert report["duration_seconds"] >= 0
        for digest in doomed_blobs:
            assert not blob_file(server, digest).exists()
            assert http.head(f"/v2/{repo}/blobs/{digest}").status_code == 404
        pull_completely(http, repo, "kept")
        assert all(blob_file(server, digest).exists() for digest in blob_digests(kept))
        runs = http.get("/api/v1/gc/runs").json()
        assert [run["status"] for run in runs[:3]] == ["completed"] * 3
        assert runs[0]["blobs_deleted"] == len(doomed_blobs) and runs[1]["dry_run"]


def test_uploading_a_collectable_blob_again_restarts_its_grace_period(tmp_path: Path, backend: str) -> None:
    with private_registry(tmp_path / "data", backend, gc_grace_period_seconds="1") as server, client(server) as http:
        repo = unique_repo("gc")
        data = random_bytes(2048)
        config = push_blob(http, repo, b'{"os":"linux"}')
        layer = push_blob(http, repo, data)
        time.sleep(1.5)  # both are now collectable: unreferenced and past the grace period
        push_blob(http, repo, data)  # the client pushes the layer again, then its manifest
        push_blob(http, repo, b'{"os":"linux"}')
        gc(http)
        push_manifest(http, repo, image_manifest(config, [layer]), "again")
        pull_completely(http, repo, "again")


def test_mounting_a_collectable_blob_restarts_its_grace_period(tmp_path: Path, backend: str) -> None:
    with private_registry(tmp_path / "data", backend, gc_grace_period_seconds="1") as server, client(server) as http:
        source, target = unique_repo("gc"), unique_repo("gc")
        config = push_blob(http, source, b'{"os":"mounted"}')
        layer = push_blob(http, source, random_bytes(1024))
        time.sleep(1.5)
        for blob in (config, layer):
            response = http.post(f"/v2/{target}/blobs/uploads/", params={"mount": blob.digest, "from": source})
            assert response.status_code == 201, response.text
        gc(http)
        push_manifest(http, target, image_manifest(config, [layer]), "mounted")
        pull_completely(http, target, "mounted")


def test_a_collectable_blob_a_client_found_with_head_stays_for_its_manifest(tmp_path: Path, backend: str) -> None:
    """A pusher that HEADs a layer and finds it skips the upload: GC must not take it before the manifest."""
    with private_registry(tmp_path / "data", backend, gc_grace_period_seconds="1") as server, client(server) as http:
        repo = unique_repo("gc")
        config = push_blob(http, repo, b'{"os":"found"}')
        layer = push_blob(http, repo, random_bytes(1024))
        time.sleep(1.5)  # unreferenced and past the grace period: collectable
        for blob in (config, layer):
            assert http.head(f"/v2/{repo}/blobs/{blob.digest}").status_code == 200
        gc(http)
        push_manifest(http, repo, image_manifest(config, [layer]), "found")
        pull_completely(http, repo, "found")


def test_abandoned_uploads_are_purged_after_their_maximum_age(tmp_path: Path) -> None:
    with private_registry(tmp_path / "data", "sqlite", upload_max_age_seconds="1") as server, client(server) as http:
        repo = unique_repo("gc")
        abandoned = start_upload(http, repo)
        assert (
            http.patch(abandoned, content=b"x" * 100, headers={"Content-Type": "application/octet-stream"}).status_code
            == 202
        )
        time.sleep(1.5)
        active = start_upload(http, repo)
        assert gc(http, dry_run=True)["uploads_purged"] == 1
        assert gc(http)["uploads_purged"] == 1
        assert http.get(abandoned).status_code == 404
        assert http.get(active).status_code == 204
        assert server.data_dir is not None
        assert len(list((server.data_dir / "uploads").iterdir())) == 1


def test_metrics_report_what_gc_freed(tmp_path: Path) -> None:
    with private_registry(tmp_path / "data", "sqlite", gc_grace_period_seconds="0") as server, client(server) as http:
        repo = unique_repo("gc")
        push_blob(http, repo, random_bytes(1000))
        report = gc(http)
        assert report["blobs_deleted"] == 1 and report["bytes_freed"] == 1000
        metrics = http.get("/metrics")
        assert metrics.status_code == 200
        values = dict(line.rsplit(" ", 1) for line in metrics.text.splitlines() if line and not line.startswith("#"))
        assert float(values["moorage_gc_blobs_deleted_total"]) == 1
        assert float(values["moorage_gc_bytes_freed_total"]) == 1000
        assert float(values["moorage_gc_runs_total"]) == 1


def test_cli_gc_reports_blobs_bytes_and_time(tmp_path: Path) -> None:
    with private_registry(tmp_path / "data", "sqlite", gc_grace_period_seconds="0") as server, client(server) as http:
        push_blob(http, unique_repo("gc"), random_bytes(300))
        command = [sys.executable, "-m", "moorage", "gc", "--url", server.url]
        dry = subprocess.run([*command, "--dry-run"], check=False, capture_output=True, text=True, timeout=60)
        assert dry.returncode == 0, dry.stderr
        assert "gc (dry run): would free 1 blobs, 300 bytes" in dry.stdout
        real = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)
        assert "gc: freed 1 blobs, 300 bytes" in real.stdout and " s" in real.stdout
