"""podman and buildah (rootful, vfs storage, all config in a temporary directory) push and pull unchanged.

podman recompresses layers from its local storage on push, so the pushed manifest differs from the
source layout's; what must hold is that the registry stores exactly what podman pushed (digest podman
reports == digest the registry serves == digest podman sees after pulling it back) and that the image
itself (config, so image ID, and file content) survives.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.registry_checks import get_manifest_bytes, head_manifest
from tests.support.clients import ContainerTools, require_tools
from tests.support.oci_layout import (
    read_blob,
    read_layer_files,
    tag_descriptor,
    with_marker,
    write_image,
    write_multi_platform_image,
)

pytestmark = pytest.mark.e2e


def config_id(digest: str) -> str:
    """podman's image ID: the config digest without its algorithm."""
    return digest.removeprefix("sha256:")


def test_podman_push_then_pull_gives_back_the_same_image(
    tools: ContainerTools, registry_http: httpx.Client, repository: str, nonce: str, tmp_path: Path
) -> None:
    """podman push, rmi, pull: the digests agree everywhere, and the files are back."""
    require_tools("podman")
    layout = tmp_path / "layout"
    image = write_image(
        layout,
        "v1",
        with_marker(
            nonce,
            [
                {"etc/moorage-test-id": nonce.encode()},
                {"usr/share/motd": b"welcome aboard\n"},
                {"srv/data": b"x" * 9000},
            ],
        ),
    )
    target = tools.ref(repository, "v1")
    digest_file = tools.root / "pushed.digest"

    assert tools.podman("pull", "-q", f"oci:{layout}:v1").endswith(config_id(image.config_digest))
    tools.podman("tag", config_id(image.config_digest), target)
    tools.podman("push", "-q", "--digestfile", digest_file, target)
    pushed = digest_file.read_text().strip()

    stored = head_manifest(registry_http, repository, "v1")
    assert stored is not None and stored.digest == pushed

    tools.podman("rmi", "-a", "-f")
    assert tools.podman("images", "-q") == ""
    tools.podman("pull", "-q", target)

    image_id, repo_digest = tools.podman("image", "inspect", "--format", "{{.Id}} {{.Digest}}", target).split()
    assert repo_digest == pushed
    assert image_id == config_id(image.config_digest), "the config (image ID) must survive push and pull"
    mount_point = Path(tools.podman("image", "mount", target))
    try:
        assert (mount_point / "usr/share/motd").read_bytes() == b"welcome aboard\n"
        assert (mount_point / "etc/moorage-test-id").read_text() == nonce
    finally:
        tools.podman("image", "unmount", target)


def test_podman_pulls_the_requested_platform_from_an_index(
    tools: ContainerTools, repository: str, nonce: str, tmp_path: Path
) -> None:
    """podman resolves a two-platform index in the registry to the image of the platform it asks for."""
    require_tools("podman", "skopeo")
    layout = tmp_path / "layout"
    index = write_multi_platform_image(layout, "multi", with_marker(nonce, [{"etc/motd": b"hi\n"}]))
    tools.skopeo_copy(f"oci:{layout}:multi", tools.docker(repository, "multi"), "--all", "--preserve-digests")
    arm64 = next(image for image in index.images if image.platform == ("linux", "arm64"))

    pulled_id = tools.podman("pull", "-q", "--platform", "linux/arm64", tools.ref(repository, "multi"))

    assert pulled_id == config_id(arm64.config_digest)
    assert tools.podman("image", "inspect", "--format", "{{.Architecture}}", pulled_id) == "arm64"


def test_buildah_commit_and_push_is_readable_by_skopeo(
    tools: ContainerTools, registry_http: httpx.Client, repository: str, nonce: str, tmp_path: Path
) -> None:
    """An image built by buildah (scratch + COPY) arrives intact: another client reads the same file back."""
    require_tools("buildah", "skopeo")
    content = f"hello from buildah {nonce}\n".encode()
    (tools.root / "hello.txt").write_bytes(content)
    digest_file = tools.root / "pushed.digest"
    copy = tmp_path / "copy"

    container = tools.buildah("from", "scratch")
    tools.buildah("copy", container, tools.root / "hello.txt", "/hello.txt")
    tools.buildah("config", "--label", f"org.example.test-id={nonce}", container)
    tools.buildah("commit", "-q", container, "built:latest")
    tools.buildah("push", "--digestfile", digest_file, "built:latest", tools.docker(repository, "v1"))
    pushed = digest_file.read_text().strip()

    stored = head_manifest(registry_http, repository, "v1")
    assert stored is not None and stored.digest == pushed

    tools.skopeo_copy(tools.docker(repository, "v1"), f"oci:{copy}:v1", "--preserve-digests")
    assert tag_descriptor(copy, "v1")["digest"] == pushed
    manifest = json.loads(read_blob(copy, pushed))
    files: dict[str, bytes] = {}
    for layer in manifest["layers"]:
        files.update(read_layer_files(read_blob(copy, layer["digest"])))
    assert files["hello.txt"] == content
    config = json.loads(read_blob(copy, manifest["config"]["digest"]))
    assert config["config"]["Labels"]["org.example.test-id"] == nonce


def test_podman_manifest_push_all_publishes_both_platforms(
    tools: ContainerTools, registry_http: httpx.Client, repository: str, nonce: str, tmp_path: Path
) -> None:
    """`podman manifest create/add/push --all`: the list and both images arrive, configs unchanged."""
    require_tools("podman")
    layout = tmp_path / "layout"
    images = [
        write_image(layout, "amd64", with_marker(nonce, [{"arch": b"amd64"}]), ("linux", "amd64")),
        write_image(layout, "arm64", with_marker(nonce, [{"arch": b"arm64"}]), ("linux", "arm64")),
    ]
    tools.podman("manifest", "create", "multi")
    for image in images:
        tools.podman("pull", "-q", f"oci:{layout}:{image.tag}")
        tools.podman("manifest", "add", "multi", f"containers-storage:{config_id(image.config_digest)}")
    digest_file = tools.root / "pushed.digest"

    tools.podman("manifest", "push", "--all", "--digestfile", digest_file, "multi", tools.docker(repository, "v1"))

    stored = head_manifest(registry_http, repository, "v1")
    assert stored is not None and stored.digest == digest_file.read_text().strip()
    index = json.loads(get_manifest_bytes(registry_http, repository, "v1"))
    platforms = {
        f"{entry['platform']['os']}/{entry['platform']['architecture']}": entry for entry in index["manifests"]
    }
    assert set(platforms) == {"linux/amd64", "linux/arm64"}
    for image in images:
        entry = platforms["/".join(image.platform)]
        manifest = json.loads(get_manifest_bytes(registry_http, repository, entry["digest"]))
        assert manifest["config"]["digest"] == image.config_digest
