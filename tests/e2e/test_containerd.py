"""containerd (`ctr`), the runtime Kubernetes nodes pull with, pulls and pushes through the registry.

containerd verifies every blob's digest while fetching and every layer's diff ID while unpacking, so a
completed, unpacked pull proves the registry served exactly the pushed bytes. One private daemon (root,
state and sockets in its own directory, the CRI plugin disabled) serves the whole module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.registry_checks import head_manifest
from tests.support.clients import Containerd, ContainerTools, require_root, require_tools, running_containerd
from tests.support.oci_layout import Image, read_blob, with_marker, write_image, write_multi_platform_image

pytestmark = pytest.mark.e2e

SNAPSHOTTER = "native"


@pytest.fixture(scope="module")
def containerd() -> Iterator[Containerd]:
    """A containerd daemon of our own, stopped by PID when the module ends."""
    require_tools("containerd", "ctr", "skopeo")
    require_root("a private containerd daemon")
    with running_containerd() as daemon:
        yield daemon


def chain_id(diff_ids: list[str]) -> str:
    """The identity of an unpacked layer stack (image-spec config.md, "ChainID")."""
    chain = diff_ids[0]
    for diff_id in diff_ids[1:]:
        chain = "sha256:" + hashlib.sha256(f"{chain} {diff_id}".encode()).hexdigest()
    return chain


def image_rows(containerd: Containerd) -> dict[str, list[str]]:
    """`ctr images ls` as name -> [type, digest, size, unit, platforms, labels]."""
    lines = containerd.ctr("images", "ls").splitlines()[1:]
    return {line.split()[0]: line.split()[1:] for line in lines if line.strip()}


def push_with_skopeo(tools: ContainerTools, layout: Path, tag: str, repository: str, *extra: str) -> None:
    tools.skopeo_copy(f"oci:{layout}:{tag}", tools.docker(repository, tag), "--preserve-digests", *extra)


def test_ctr_pull_fetches_and_unpacks_the_image(
    containerd: Containerd, tools: ContainerTools, repository: str, nonce: str, tmp_path: Path
) -> None:
    """`ctr images pull --plain-http` by tag: same digest, identical layer bytes, layers unpacked."""
    layout = tmp_path / "layout"
    image = write_image(
        layout,
        "v1",
        with_marker(nonce, [{"etc/os-release": b"ID=test\n"}, {"bin/app": b"#!/bin/sh\n"}, {"srv/blob": b"b" * 9000}]),
    )
    push_with_skopeo(tools, layout, "v1", repository)
    reference = tools.ref(repository, "v1")

    containerd.ctr("images", "pull", "--plain-http", "--snapshotter", SNAPSHOTTER, reference)

    assert image_rows(containerd)[reference][1] == image.manifest_digest
    for layer in image.layers:
        assert containerd.ctr_bytes("content", "get", layer.digest) == read_blob(layout, layer.digest)
    snapshots = containerd.ctr("snapshots", "--snapshotter", SNAPSHOTTER, "ls")
    assert chain_id([layer.diff_id for layer in image.layers]) in snapshots, "the top layer was not unpacked"


def test_ctr_pull_all_platforms_fetches_the_whole_index(
    containerd: Containerd, tools: ContainerTools, repository: str, nonce: str, tmp_path: Path
) -> None:
    """`--all-platforms` of a two-platform index: the index digest, and every blob of both images."""
    layout = tmp_path / "layout"
    index = write_multi_platform_image(layout, "multi", with_marker(nonce, [{"etc/motd": b"hi\n"}]))
    push_with_skopeo(tools, layout, "multi", repository, "--all")
    reference = tools.ref(repository, "multi")

    containerd.ctr("images", "pull", "--plain-http", "--all-platforms", reference)

    row = image_rows(containerd)[reference]
    assert (row[0], row[1]) == ("application/vnd.oci.image.index.v1+json", index.digest)
    assert set(row[4].split(",")) == {"linux/amd64", "linux/arm64"}
    stored = set(containerd.ctr("content", "ls", "-q").split())
    wanted: set[str] = {index.digest}
    for image in index.images:
        wanted |= {image.manifest_digest, *image.blob_digests}
    assert wanted <= stored, f"missing from containerd's content store: {sorted(wanted - stored)}"


def test_ctr_push_to_another_repository_keeps_the_digest(
    containerd: Containerd,
    tools: ContainerTools,
    registry_http: httpx.Client,
    repository: str,
    nonce: str,
    tmp_path: Path,
) -> None:
    """`ctr images push` (HEAD blob, then cross-repository mount or upload) stores the same manifest."""
    layout = tmp_path / "layout"
    image: Image = write_image(
        layout, "v1", with_marker(nonce, [{"etc/os-release": b"ID=test\n"}, {"etc/motd": b"ahoy\n"}])
    )
    push_with_skopeo(tools, layout, "v1", repository)
    source = tools.ref(repository, "v1")
    target_repository = f"{repository}-copy"
    target = tools.ref(target_repository, "v1")
    containerd.ctr("images", "pull", "--plain-http", "--snapshotter", SNAPSHOTTER, source)

    containerd.ctr("images", "tag", source, target)
    containerd.ctr("images", "push", "--plain-http", target)

    stored = head_manifest(registry_http, target_repository, "v1")
    assert stored is not None and stored.digest == image.manifest_digest
    for digest in image.blob_digests:
        response = registry_http.get(f"/v2/{target_repository}/blobs/{digest}", follow_redirects=True)
        assert response.status_code == 200 and response.content == read_blob(layout, digest)
