"""Two nodes on one PostgreSQL and one S3 store behind a round-robin balancer serve one registry.

skopeo and podman push and pull through the balancer, so their connections alternate between the
nodes; a node is killed in the middle of an upload that the other node finishes; GC runs on one node
while pushes go to the other. Every digest is verified on the way back.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.functional.helpers import (
    digest_of,
    patch_chunk,
    push_image,
    random_bytes,
    resolve,
    start_upload,
    with_query,
)
from tests.support.clients import ContainerTools, container_tools, require_tools
from tests.support.object_store import ObjectStoreServer
from tests.support.oci_layout import Image, read_blob, tag_descriptor, with_marker, write_image
from tests.support.round_robin_proxy import RoundRobinProxy, round_robin
from tests.support.server import RunningRegistry, postgres_database, start_server

pytestmark = pytest.mark.e2e

GRACE_SECONDS = 15


@dataclass
class Cluster:
    nodes: list[RunningRegistry]
    balancer: RoundRobinProxy
    tools: ContainerTools

    def node_client(self, index: int) -> httpx.Client:
        return httpx.Client(base_url=self.nodes[index].url, timeout=60)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, s3_server: ObjectStoreServer) -> Iterator[Cluster]:
    """Two nodes for the whole module (the test that kills one runs last)."""
    require_tools("skopeo", "podman")
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(postgres_database())
        settings = {
            **s3_server.registry_settings(s3_server.new_bucket()),
            "gc_interval_seconds": "0",
            "lifecycle_interval_seconds": "0",
            "gc_grace_period_seconds": str(GRACE_SECONDS),
        }
        nodes = [
            stack.enter_context(start_server(tmp_path_factory.mktemp(f"node-{name}"), database_url, **settings))
            for name in "ab"
        ]
        balancer = stack.enter_context(round_robin([("127.0.0.1", node.port) for node in nodes]))
        tools = stack.enter_context(container_tools(balancer.address))
        yield Cluster(nodes, balancer, tools)


def small_image(layout: Path, tag: str, marker: str) -> Image:
    files = [{"etc/release": b"cluster\n"}, {"app/data.bin": random_bytes(300_000)}, {"app/run": b"#!/bin/sh\n"}]
    return write_image(layout, tag, with_marker(marker, files))


def pulled_digest(tools: ContainerTools, repository: str, tag: str, layout: Path) -> str:
    tools.skopeo_copy(tools.docker(repository, tag), f"oci:{layout}:{tag}", "--preserve-digests")
    digest: str = tag_descriptor(layout, tag)["digest"]
    manifest = read_blob(layout, digest)
    assert digest_of(manifest) == digest
    return digest


def test_skopeo_and_podman_push_and_pull_through_alternating_nodes(
    cluster: Cluster, tmp_path: Path, nonce: str
) -> None:
    tools = cluster.tools
    images = {tag: small_image(tmp_path / "src", tag, f"{nonce}-{tag}") for tag in ("v1", "v2", "v3")}
    for tag, image in images.items():
        tools.skopeo_copy(f"oci:{tmp_path / 'src'}:{tag}", tools.docker("cluster/app", tag), "--preserve-digests")
        for index in range(2):  # a tag pushed through the balancer is at once on every node
            with cluster.node_client(index) as client:
                head = client.head(f"/v2/cluster/app/manifests/{tag}", headers={"Accept": image.descriptor.media_type})
                assert head.headers.get("docker-content-digest") == image.manifest_digest
    assert len(cluster.balancer.connections) == 2, "both nodes took connections"
    for tag, image in images.items():
        assert pulled_digest(tools, "cluster/app", tag, tmp_path / "back") == image.manifest_digest
    tools.podman("pull", "-q", tools.ref("cluster/app", "v2"))
    inspected = tools.podman("image", "inspect", "--format", "{{.Digest}}", tools.ref("cluster/app", "v2"))
    assert inspected == images["v2"].manifest_digest


def test_gc_on_one_node_while_pushes_go_to_the_other_loses_nothing(
    cluster: Cluster, tmp_path: Path, nonce: str
) -> None:
    with cluster.node_client(1) as collector_node:
        garbage = push_image(collector_node, "cluster/garbage", layer_count=2)
        deleted = collector_node.delete(f"/v2/cluster/garbage/manifests/{garbage.digest}")
        assert deleted.status_code == 202
        garbage_released = time.monotonic()
        stop = threading.Event()
        reports: list[dict[str, int]] = []

        def collect_until_stopped() -> None:
            with cluster.node_client(1) as client:
                while not stop.is_set():
                    response = client.post("/api/v1/gc")
                    if response.status_code == 200:
                        reports.append(response.json())
                    stop.wait(0.3)

        collector = threading.Thread(target=collect_until_stopped)
        collector.start()
        pusher = container_tools(cluster.nodes[0].host)
        try:
            with pusher as tools:
                images = {tag: small_image(tmp_path / "src", tag, f"{nonce}-gc-{tag}") for tag in ("a", "b", "c")}
                for tag in images:
                    tools.skopeo_copy(
                        f"oci:{tmp_path / 'src'}:{tag}", tools.docker("cluster/busy", tag), "--preserve-digests"
                    )
        finally:
            stop.set()
            collector.join(60)
        assert reports, "GC ran on the other node while the pushes went on"
        time.sleep(max(0.0, GRACE_SECONDS + 1 - (time.monotonic() - garbage_released)))
        final = collector_node.post("/api/v1/gc")
        assert final.status_code == 200, final.text
        assert sum(report["blobs_deleted"] for report in [*reports, final.json()]) >= 3, "the garbage went"
    for tag, image in images.items():
        assert pulled_digest(cluster.tools, "cluster/busy", tag, tmp_path / "back") == image.manifest_digest


def test_an_upload_continues_on_the_other_node_after_its_node_is_killed(cluster: Cluster) -> None:
    """Runs last in the module: it kills node A."""
    data = random_bytes(3 * 1024 * 1024 + 5)
    first, rest = data[: 2 * 1024 * 1024], data[2 * 1024 * 1024 :]
    with cluster.node_client(0) as doomed:
        location = start_upload(doomed, "cluster/upload")
        response = patch_chunk(doomed, location, first, 0)
        assert response.status_code == 202, response.text
        path = resolve(response).split(cluster.nodes[0].url, 1)[-1]
    cluster.nodes[0].kill()
    with httpx.Client(base_url=f"http://{cluster.balancer.address}", timeout=60) as balanced:
        status = balanced.get(path)
        assert status.status_code == 204 and status.headers["range"] == f"0-{len(first) - 1}"
        response = balanced.put(with_query(path, digest=digest_of(data)), content=rest)
        assert response.status_code == 201, response.text
        blob = balanced.get(f"/v2/cluster/upload/blobs/{digest_of(data)}")
        assert blob.status_code == 200 and digest_of(blob.content) == digest_of(data)
