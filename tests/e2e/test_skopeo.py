"""skopeo, the daemonless reference client of containers/image, pushes and pulls through the registry unchanged.

`--preserve-digests` makes skopeo refuse any change to the image (recompression, manifest conversion), so
an identical digest after the round trip proves the registry stored and served every byte as received.
"""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e.registry_checks import get_manifest_bytes, head_manifest
from tests.support.clients import ContainerTools, require_tools
from tests.support.oci_layout import (
    MEDIA_TYPE_LAYER_GZIP,
    Image,
    make_layer,
    random_layer,
    read_blob,
    sha256_digest,
    tag_descriptor,
    with_marker,
    write_image,
    write_image_from_blobs,
    write_multi_platform_image,
)

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _skopeo_installed() -> None:
    require_tools("skopeo")


def three_layer_image(layout: Path, tag: str, nonce: str) -> Image:
    """An image with three gzip layers, one of them 2 MiB of incompressible bytes."""
    return write_image(
        layout,
        tag,
        with_marker(
            nonce,
            [
                {"etc/os-release": b"ID=moorage-test\n"},
                {"usr/bin/tool": b"#!/bin/sh\necho tool\n", "usr/share/doc/tool/README": b"docs\n" * 200},
                {"var/lib/data.bin": random.Random(nonce).randbytes(2 * 1024 * 1024)},
            ],
        ),
    )


def image_with_a_large_layer(layout: Path, tag: str, nonce: str) -> Image:
    """Four layers, the last one 40 MiB: big enough that clients stream it in many reads and writes."""
    small = [make_layer(files) for files in with_marker(nonce, [{"a": b"a"}, {"b": b"b"}, {"c": b"c"}])]
    large = random_layer(40 * 1024 * 1024, seed=int(nonce[:12], 16))
    return write_image_from_blobs(layout, tag, [*small, large])


def push(tools: ContainerTools, layout: Path, tag: str, repository: str, *extra: str) -> None:
    tools.skopeo_copy(f"oci:{layout}:{tag}", tools.docker(repository, tag), "--preserve-digests", *extra)


def test_skopeo_round_trip_keeps_every_digest(
    tools: ContainerTools, registry_http: httpx.Client, repository: str, nonce: str, tmp_path: Path
) -> None:
    """An image copied in and out again (one layer 40 MiB) has the same manifest digest and identical blobs."""
    source, copy = tmp_path / "source", tmp_path / "copy"
    image = image_with_a_large_layer(source, "v1", nonce)

    push(tools, source, "v1", repository)
    stored = head_manifest(registry_http, repository, "v1")
    assert stored is not None and stored.digest == image.manifest_digest
    assert stored.media_type == "application/vnd.oci.image.manifest.v1+json"

    tools.skopeo_copy(tools.docker(repository, "v1"), f"oci:{copy}:v1", "--preserve-digests")

    assert tag_descriptor(copy, "v1")["digest"] == image.manifest_digest
    assert read_blob(copy, image.manifest_digest) == image.manifest_bytes
    for digest in image.blob_digests:
        assert read_blob(copy, digest) == read_blob(source, digest), f"blob {digest} changed in the round trip"


def test_skopeo_copy_all_keeps_the_index_and_every_platform(
    tools: ContainerTools, registry_http: httpx.Client, repository: str, nonce: str, tmp_path: Path
) -> None:
    """`copy --all` of a two-platform index: same index digest, exact index bytes, both images intact."""
    source, copy = tmp_path / "source", tmp_path / "copy"
    index = write_multi_platform_image(source, "multi", with_marker(nonce, [{"etc/motd": b"hi\n"}]))
    assert [image.platform for image in index.images] == [("linux", "amd64"), ("linux", "arm64")]

    push(tools, source, "multi", repository, "--all")

    assert tools.skopeo_inspect_raw(tools.docker(repository, "multi")) == index.index_bytes
    stored = head_manifest(registry_http, repository, "multi")
    assert stored is not None
    assert (stored.digest, stored.media_type) == (index.digest, "application/vnd.oci.image.index.v1+json")
    for image in index.images:
        assert get_manifest_bytes(registry_http, repository, image.manifest_digest) == image.manifest_bytes

    tools.skopeo_copy(tools.docker(repository, "multi"), f"oci:{copy}:multi", "--all", "--preserve-digests")

    assert tag_descriptor(copy, "multi")["digest"] == index.digest
    assert read_blob(copy, index.digest) == index.index_bytes
    for image in index.images:
        assert read_blob(copy, image.manifest_digest) == image.manifest_bytes
        for digest in image.blob_digests:
            assert read_blob(copy, digest) == read_blob(source, digest), f"{image.platform} blob {digest} changed"


def test_skopeo_list_tags_shows_every_pushed_tag(
    tools: ContainerTools, repository: str, nonce: str, tmp_path: Path
) -> None:
    """Tags pushed to one repository are all listed, and nothing else is."""
    layout = tmp_path / "layout"
    three_layer_image(layout, "v1", nonce)
    write_image(layout, "v2", with_marker(nonce, [{"etc/version": b"2\n"}]))

    push(tools, layout, "v1", repository)
    push(tools, layout, "v2", repository)
    tools.skopeo_copy(tools.docker(repository, "v2"), tools.docker(repository, "latest"), "--preserve-digests")

    assert sorted(tools.skopeo_list_tags(repository)) == ["latest", "v1", "v2"]


def test_skopeo_inspect_describes_the_pushed_image(
    tools: ContainerTools, repository: str, nonce: str, tmp_path: Path
) -> None:
    """`skopeo inspect` reads manifest and config back: digest, platform and layer list match the source."""
    layout = tmp_path / "layout"
    image = three_layer_image(layout, "v1", nonce)
    push(tools, layout, "v1", repository)

    summary = tools.skopeo_inspect(tools.docker(repository, "v1"))

    assert summary["Digest"] == image.manifest_digest
    assert (summary["Os"], summary["Architecture"]) == image.platform
    assert summary["Layers"] == [layer.digest for layer in image.layers]
    assert summary["RepoTags"] == ["v1"]
    assert tools.skopeo_inspect_raw(tools.docker(repository, image.manifest_digest)) == image.manifest_bytes


def test_skopeo_delete_removes_the_manifest_and_its_tags(
    tools: ContainerTools, registry_http: httpx.Client, repository: str, nonce: str, tmp_path: Path
) -> None:
    """After `skopeo delete` (by tag; skopeo resolves it and deletes by digest) the manifest is gone: 404 by
    digest, by the deleted tag, and by another tag that named the same manifest."""
    layout = tmp_path / "layout"
    image = three_layer_image(layout, "v1", nonce)
    push(tools, layout, "v1", repository)
    tools.skopeo_copy(tools.docker(repository, "v1"), tools.docker(repository, "also"), "--preserve-digests")
    assert head_manifest(registry_http, repository, "also") is not None

    tools.skopeo_delete(tools.docker(repository, "v1"))

    assert head_manifest(registry_http, repository, image.manifest_digest) is None
    assert head_manifest(registry_http, repository, "v1") is None
    assert head_manifest(registry_http, repository, "also") is None
    response = registry_http.get(f"/v2/{repository}/manifests/{image.manifest_digest}")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"


def test_skopeo_push_over_a_tag_moves_it_and_keeps_the_old_manifest(
    tools: ContainerTools, registry_http: httpx.Client, repository: str, nonce: str, tmp_path: Path
) -> None:
    """Re-pushing a tag points it at the new image; the old image stays reachable by digest."""
    layout = tmp_path / "layout"
    old = write_image(layout, "old", with_marker(nonce, [{"etc/version": b"1\n"}]))
    new = write_image(layout, "new", with_marker(nonce, [{"etc/version": b"2\n"}]))

    tools.skopeo_copy(f"oci:{layout}:old", tools.docker(repository, "stable"), "--preserve-digests")
    tools.skopeo_copy(f"oci:{layout}:new", tools.docker(repository, "stable"), "--preserve-digests")

    assert tools.skopeo_inspect(tools.docker(repository, "stable"))["Digest"] == new.manifest_digest
    assert get_manifest_bytes(registry_http, repository, old.manifest_digest) == old.manifest_bytes
    assert tools.skopeo_list_tags(repository) == ["stable"]


def test_skopeo_docker_schema2_push_is_served_as_docker_schema2(
    tools: ContainerTools, registry_http: httpx.Client, repository: str, nonce: str, tmp_path: Path
) -> None:
    """A Docker v2 schema 2 manifest (what docker push sends) keeps its media type and exact bytes."""
    layout, copy = tmp_path / "layout", tmp_path / "copy"
    image = three_layer_image(layout, "v1", nonce)

    tools.skopeo_copy(f"oci:{layout}:v1", tools.docker(repository, "v1"), "--format", "v2s2")

    stored = head_manifest(registry_http, repository, "v1")
    assert stored is not None and stored.media_type == DOCKER_MANIFEST
    raw = tools.skopeo_inspect_raw(tools.docker(repository, "v1"))
    manifest = json.loads(raw)
    assert stored.digest == sha256_digest(raw) and stored.size == len(raw)
    assert manifest["mediaType"] == DOCKER_MANIFEST
    assert [(layer["mediaType"], layer["digest"]) for layer in manifest["layers"]] == [
        (DOCKER_LAYER_GZIP, layer.digest) for layer in image.layers
    ], "gzip layers must pass through unchanged, only their media type is Docker's"
    assert all(layer.media_type == MEDIA_TYPE_LAYER_GZIP for layer in image.layers)

    tools.skopeo_copy(tools.docker(repository, "v1"), f"dir:{copy}", "--preserve-digests")
    assert (copy / "manifest.json").read_bytes() == raw
    for layer in image.layers:
        assert (copy / layer.digest.removeprefix("sha256:")).read_bytes() == read_blob(layout, layer.digest)


def test_parallel_pushes_of_images_sharing_layers_all_land(
    tools: ContainerTools, registry_http: httpx.Client, repository: str, nonce: str, tmp_path: Path
) -> None:
    """Six skopeo processes push at once, racing to upload the same base layers; every image arrives whole."""
    layout = tmp_path / "layout"
    base = with_marker(
        nonce, [{"etc/os-release": b"ID=base\n"}, {"usr/lib/base.bin": random.Random(nonce).randbytes(1 << 20)}]
    )
    images = [write_image(layout, f"app{n}", [*base, {"app/id": f"{nonce}/{n}".encode()}]) for n in range(6)]
    targets = [(image, f"{repository}-{n % 2}") for n, image in enumerate(images)]

    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        pushes = [
            pool.submit(push, tools, layout, image.tag or "", target_repository) for image, target_repository in targets
        ]
        for finished in pushes:
            finished.result()

    for image, target_repository in targets:
        assert get_manifest_bytes(registry_http, target_repository, image.tag or "") == image.manifest_bytes
        for digest in image.blob_digests:
            response = registry_http.get(f"/v2/{target_repository}/blobs/{digest}", follow_redirects=True)
            assert response.status_code == 200, f"{target_repository} lacks {digest}"
            assert sha256_digest(response.content) == digest


def test_skopeo_zstd_layers_round_trip(
    tools: ContainerTools, registry_http: httpx.Client, repository: str, nonce: str, tmp_path: Path
) -> None:
    """Layers recompressed to zstd on push (a media type the registry must not second-guess) come back intact."""
    layout, copy = tmp_path / "layout", tmp_path / "copy"
    three_layer_image(layout, "v1", nonce)

    tools.skopeo_copy(
        f"oci:{layout}:v1", tools.docker(repository, "v1"), "--dest-compress", "--dest-compress-format", "zstd"
    )

    raw = get_manifest_bytes(registry_http, repository, "v1")
    layers = json.loads(raw)["layers"]
    assert {layer["mediaType"] for layer in layers} == {"application/vnd.oci.image.layer.v1.tar+zstd"}
    tools.skopeo_copy(tools.docker(repository, "v1"), f"oci:{copy}:v1", "--preserve-digests")
    assert read_blob(copy, sha256_digest(raw)) == raw
    for layer in layers:
        assert len(read_blob(copy, layer["digest"])) == layer["size"]
