"""Several clients at once: same blob, same tag, many uploads.

See DESIGN.md "Atomic visibility" and the spec's "Layer Upload De-duplication".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import httpx

from tests.functional.helpers import (
    OCI_MANIFEST,
    Manifest,
    canonical_json,
    image_manifest,
    patch_chunk,
    push_blob,
    put_manifest,
    random_bytes,
    resolve,
    sha256,
    start_upload,
    with_query,
)
from tests.support.server import RunningRegistry

T = TypeVar("T")
CLIENTS = 6


def run_together(registry: RunningRegistry, count: int, work: Callable[[httpx.Client, int], T]) -> list[T]:
    """Run `work` in `count` threads, each with its own client, released at the same moment."""
    barrier = threading.Barrier(count)

    def one(index: int) -> T:
        with httpx.Client(base_url=registry.url, timeout=60) as client:
            barrier.wait(timeout=30)
            return work(client, index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_same_blob_pushed_monolithically_by_several_clients(
    registry: RunningRegistry, http: httpx.Client, repo: str
) -> None:
    """Spec: If process A and B upload the same layer at the same time, both operations will proceed."""
    data = random_bytes(2 * 1024 * 1024)
    digest = sha256(data)

    def push(client: httpx.Client, index: int) -> int:
        if index % 2:
            response = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=data)
            if response.status_code == 202:  # a registry without the single POST answers with a session
                response = client.put(with_query(resolve(response), digest=digest), content=data)
            return response.status_code
        location = start_upload(client, repo)
        return client.put(with_query(location, digest=digest), content=data).status_code

    assert run_together(registry, CLIENTS, push) == [201] * CLIENTS
    response = http.get(f"/v2/{repo}/blobs/{digest}")
    assert response.status_code == 200
    assert response.content == data


def test_same_blob_pushed_in_chunks_by_several_clients(
    registry: RunningRegistry, http: httpx.Client, repo: str
) -> None:
    data = random_bytes(1024 * 1024 + 17)
    digest = sha256(data)
    chunk = 256 * 1024

    def push(client: httpx.Client, index: int) -> int:
        location = start_upload(client, repo)
        for start in range(0, len(data), chunk):
            response = patch_chunk(client, location, data[start : start + chunk], start)
            assert response.status_code == 202, response.text
            location = resolve(response)
        return client.put(with_query(location, digest=digest)).status_code

    assert run_together(registry, CLIENTS, push) == [201] * CLIENTS
    assert http.get(f"/v2/{repo}/blobs/{digest}").content == data


def test_different_manifests_pushed_to_one_tag_leave_it_on_exactly_one(
    registry: RunningRegistry, http: httpx.Client, repo: str
) -> None:
    """Racing PUTs to one tag all succeed; afterwards GET by tag, HEAD and tags/list agree on one winner."""
    config = push_blob(http, repo, canonical_json({"os": "linux"}))
    manifests: list[Manifest] = [
        image_manifest(config, [push_blob(http, repo, random_bytes(64))]) for _ in range(CLIENTS)
    ]
    for round_ in range(3):
        tag = f"race{round_}"

        def push(client: httpx.Client, index: int, tag: str = tag) -> int:
            return put_manifest(client, repo, tag, manifests[index].body, OCI_MANIFEST).status_code

        assert run_together(registry, CLIENTS, push) == [201] * CLIENTS
        got = http.get(f"/v2/{repo}/manifests/{tag}")
        assert got.status_code == 200
        winners = [m for m in manifests if m.body == got.content]
        assert len(winners) == 1
        assert got.headers["docker-content-digest"] == winners[0].digest
        assert http.head(f"/v2/{repo}/manifests/{tag}").headers["docker-content-digest"] == winners[0].digest
        tags = http.get(f"/v2/{repo}/tags/list").json()["tags"]
        assert tags.count(tag) == 1
        for manifest in manifests:  # every racer's manifest was stored, by digest
            assert http.head(f"/v2/{repo}/manifests/{manifest.digest}").status_code == 200


def test_same_manifest_pushed_by_several_clients(registry: RunningRegistry, http: httpx.Client, repo: str) -> None:
    config = push_blob(http, repo, canonical_json({"os": "linux"}))
    manifest = image_manifest(config, [push_blob(http, repo)])

    def push(client: httpx.Client, index: int) -> int:
        return put_manifest(
            client, repo, "same" if index % 2 else manifest.digest, manifest.body, OCI_MANIFEST
        ).status_code

    assert run_together(registry, CLIENTS, push) == [201] * CLIENTS
    assert http.get(f"/v2/{repo}/manifests/same").content == manifest.body
    assert http.get(f"/v2/{repo}/tags/list").json()["tags"] == ["same"]


def test_many_parallel_uploads_of_distinct_blobs_all_succeed(
    registry: RunningRegistry, http: httpx.Client, repo: str
) -> None:
    blobs = [random_bytes(64 * 1024 + index) for index in range(48)]

    def push(client: httpx.Client, index: int) -> list[int]:
        statuses = []
        for data in blobs[index::8]:
            location = start_upload(client, repo)
            statuses.append(client.put(with_query(location, digest=sha256(data)), content=data).status_code)
        return statuses

    results = run_together(registry, 8, push)
    assert [status for statuses in results for status in statuses] == [201] * len(blobs)
    for data in blobs:
        response = http.get(f"/v2/{repo}/blobs/{sha256(data)}")
        assert response.status_code == 200
        assert response.content == data


def test_parallel_pushes_to_many_repositories_create_each(
    registry: RunningRegistry, http: httpx.Client, repo: str
) -> None:
    """Repositories created at the same moment by different clients all exist afterwards."""
    names = [f"{repo}/n{index}" for index in range(CLIENTS)]

    def push(client: httpx.Client, index: int) -> int:
        blob = push_blob(client, names[index], canonical_json({"i": index}))
        manifest = image_manifest(blob, [])
        return put_manifest(client, names[index], "v1", manifest.body, OCI_MANIFEST).status_code

    assert run_together(registry, CLIENTS, push) == [201] * CLIENTS
    for name in names:
        assert http.get(f"/v2/{name}/tags/list").json()["tags"] == ["v1"]


def test_racing_chunks_at_the_same_offset_of_one_upload_keep_exactly_one(
    registry: RunningRegistry, http: httpx.Client, repo: str
) -> None:
    """Two clients PATCH the same session at offset 0: one chunk is taken, the others get 416, nothing interleaves."""
    location = start_upload(http, repo)
    chunks = [random_bytes(256 * 1024) for _ in range(CLIENTS)]

    def send(client: httpx.Client, index: int) -> int:
        return patch_chunk(client, location, chunks[index], 0).status_code

    statuses = run_together(registry, CLIENTS, send)
    assert sorted(statuses) == [202] + [416] * (CLIENTS - 1), statuses
    winner = chunks[statuses.index(202)]
    status = http.get(location)
    assert status.status_code == 204
    assert status.headers["range"] == f"0-{len(winner) - 1}"
    assert http.put(with_query(location, digest=sha256(winner))).status_code == 201
    assert http.get(f"/v2/{repo}/blobs/{sha256(winner)}").content == winner
