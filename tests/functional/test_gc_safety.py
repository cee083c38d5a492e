"""GC under fire: pushes racing repeated GC passes lose nothing, and a pass killed mid-way is safe."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import StartRegistry
from tests.functional.helpers import (
    image_manifest,
    push_blob,
    push_image,
    push_manifest,
    random_bytes,
    unique_repo,
)
from tests.functional.test_gc import (  # noqa: F401
    backend,
    blob_file,
    client,
    gc,
    private_registry,
    pull_completely,
)
from tests.support.server import postgres_database

STRESS_SECONDS = 8.0


def test_pushes_racing_repeated_gc_passes_lose_nothing(tmp_path: Path, backend: str) -> None:  # noqa: F811
    """The real race, many times over: layers that GC is about to collect are pushed again and used.

    A pool of layers is pushed in images that are then deleted, so after the grace period every
    pool layer is collectable. Then GC passes run back to back while pushers upload pool layers
    again (each used once) with fresh configs and layers, and a deleter keeps making new garbage.
    Every image pushed must then pull completely with verified digests, and GC must really have
    deleted blobs meanwhile.
    """
    grace = 2.0
    with private_registry(tmp_path / "data", backend, gc_grace_period_seconds=str(grace)) as server:
        pool = [random_bytes(400 + n) for n in range(240)]
        with client(server) as http:
            release_repo = unique_repo("stressrel")
            for start in range(0, len(pool), 20):
                config = push_blob(http, release_repo, random_bytes(32))
                layers = [push_blob(http, release_repo, data) for data in pool[start : start + 20]]
                manifest = push_manifest(http, release_repo, image_manifest(config, layers))
                assert http.delete(f"/v2/{release_repo}/manifests/{manifest.digest}").status_code == 202
        time.sleep(grace + 0.5)  # every pool layer is now unreferenced and past the grace period

        lock = threading.Lock()
        pushed: list[tuple[str, str]] = []
        errors: list[str] = []
        stop = threading.Event()
        gc_reports: list[dict[str, object]] = []

        def take_pool_layers(count: int) -> list[bytes]:
            with lock:
                return [pool.pop() for _ in range(min(count, len(pool)))]

        def pusher(worker: int) -> None:
            with client(server) as http:
                repo = unique_repo(f"stress{worker}")
                number = 0
                while not stop.is_set():
                    try:
                        config = push_blob(http, repo, f'{{"w":{worker},"n":{number}}}'.encode())
                        layers = [push_blob(http, repo, data) for data in take_pool_layers(2)]
                        layers.append(push_blob(http, repo, random_bytes(256)))
                        manifest = push_manifest(http, repo, image_manifest(config, layers), f"n{number}")
                        pushed.append((repo, manifest.digest))
                        number += 1
                    except AssertionError as error:
                        errors.append(f"push {repo}:n{number}: {error}")
                        return

        def deleter() -> None:
            with client(server) as http:
                repo = unique_repo("stressdel")
                while not stop.is_set():
                    manifest = push_image(http, repo, layer_count=2)
                    http.delete(f"/v2/{repo}/manifests/{manifest.digest}")

        def collector() -> None:
            with client(server) as http:
                while not stop.is_set():
                    response = http.post("/api/v1/gc")
                    if response.status_code == 200:
                        gc_reports.append(response.json())

        threads = [threading.Thread(target=pusher, args=(n,)) for n in range(3)]
        threads += [threading.Thread(target=deleter), threading.Thread(target=collector)]
        for thread in threads:
            thread.start()
        time.sleep(STRESS_SECONDS)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)

        assert not errors, errors[:3]
        assert len(pushed) >= 10
        assert sum(int(report["blobs_deleted"]) for report in gc_reports) > 0, "GC never deleted anything"
        with client(server) as http:
            gc(http)  # one more pass after the dust settles
            for repo, digest in pushed:
                pull_completely(http, repo, digest)


def test_a_server_killed_in_the_middle_of_a_gc_pass_restarts_cleanly(
    tmp_path: Path,
    start_registry: StartRegistry,
    backend: str,  # noqa: F811
) -> None:
    with contextlib.ExitStack() as stack:
        database = {"database_url": stack.enter_context(postgres_database())} if backend == "postgres" else {}
        _kill_mid_pass_and_restart(tmp_path, start_registry, database)


def _kill_mid_pass_and_restart(tmp_path: Path, start_registry: StartRegistry, database: dict[str, str]) -> None:
    settings = {
        **database,
        "gc_grace_period_seconds": "0",
        "gc_batch_size": "5",
        "gc_batch_pause_seconds": "0.3",
        "gc_interval_seconds": "0",
        "lifecycle_interval_seconds": "0",
    }
    data_dir = tmp_path / "data"
    server = start_registry(data_dir, **settings)
    with client(server) as http:
        repo = unique_repo("gckill")
        images = [push_image(http, repo, f"v{n}", layer_count=2) for n in range(4)]
        garbage = [push_blob(http, repo, random_bytes(100 + n)).digest for n in range(60)]

        running = threading.Thread(target=_run_gc_until_killed, args=(server.url,), daemon=True)
        running.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            runs = httpx.get(f"{server.url}/api/v1/gc/runs", timeout=10).json()
            if runs and runs[0]["status"] == "running" and runs[0]["blobs_deleted"] > 0:
                break
            time.sleep(0.05)
        server.kill()

    restarted = start_registry(data_dir, **settings)
    with client(restarted) as http:
        for image in images:
            pull_completely(http, repo, image.digest)
        # The dead pass is seen as dead at once (its process is gone), not after the 5-minute lease.
        killed = http.get("/api/v1/gc/runs").json()[0]
        assert killed["status"] == "interrupted" and 0 < killed["blobs_deleted"] < len(garbage), killed
        report = gc(http)
        assert 0 < report["blobs_deleted"] <= len(garbage) - killed["blobs_deleted"]
        runs = http.get("/api/v1/gc/runs").json()
        assert runs[0]["status"] == "completed"
        assert runs[1]["id"] == killed["id"] and runs[1]["status"] == "interrupted"
        for digest in garbage:
            assert not blob_file(restarted, digest).exists()
            assert http.head(f"/v2/{repo}/blobs/{digest}").status_code == 404
        for index in range(len(images)):
            pull_completely(http, repo, f"v{index}")


def _run_gc_until_killed(url: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(f"{url}/api/v1/gc", timeout=120)
