"""Image indexes, Docker manifest lists and OCI artifacts (image-spec image-index.md, manifest.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.functional.helpers import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    EMPTY_CONFIG_BYTES,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    Blob,
    Manifest,
    artifact_manifest,
    assert_error,
    canonical_json,
    index_manifest,
    push_artifact,
    push_blob,
    push_empty_config,
    push_image,
    push_manifest,
    put_manifest,
    random_bytes,
    sha256,
    unique_repo,
)

# The empty descriptor is fixed by the image-spec ("Guidance for an Empty Descriptor"); computed, not copied.
EMPTY_DIGEST = sha256(EMPTY_CONFIG_BYTES)


def assert_serves(response: httpx.Response, manifest: Manifest) -> None:
    assert response.status_code == 200, response.text
    assert response.content == manifest.body
    assert response.headers["content-type"] == manifest.media_type
    assert response.headers["docker-content-digest"] == manifest.digest
    assert int(response.headers["content-length"]) == manifest.size


@pytest.mark.parametrize(
    ("index_type", "child_type"),
    [(OCI_INDEX, OCI_MANIFEST), (DOCKER_MANIFEST_LIST, DOCKER_MANIFEST)],
    ids=["oci-index", "docker-manifest-list"],
)
def test_index_over_pushed_manifests_round_trips(
    http: httpx.Client, repo: str, index_type: str, child_type: str
) -> None:
    children = [push_image(http, repo, media_type=child_type) for _ in range(2)]
    index = index_manifest(children, media_type=index_type)
    response = put_manifest(http, repo, "multi", index.body, index_type)
    assert response.status_code == 201, response.text
    assert response.headers["docker-content-digest"] == index.digest
    assert_serves(http.get(f"/v2/{repo}/manifests/multi", headers={"Accept": index_type}), index)
    assert_serves(http.get(f"/v2/{repo}/manifests/{index.digest}"), index)
    head = http.head(f"/v2/{repo}/manifests/multi")
    assert head.status_code == 200
    assert head.headers["content-type"] == index_type
    assert head.headers["docker-content-digest"] == index.digest
    for child in children:
        assert_serves(http.get(f"/v2/{repo}/manifests/{child.digest}"), child)


def test_index_may_contain_an_index(http: httpx.Client, repo: str) -> None:
    inner = push_manifest(http, repo, index_manifest([push_image(http, repo)]))
    outer = index_manifest([inner, push_image(http, repo)])
    push_manifest(http, repo, outer, "nested")
    assert_serves(http.get(f"/v2/{repo}/manifests/nested"), outer)


def test_empty_index_is_accepted(http: httpx.Client, repo: str) -> None:
    index = push_manifest(http, repo, index_manifest([]), "empty")
    assert_serves(http.get(f"/v2/{repo}/manifests/empty"), index)


def test_index_naming_an_unknown_manifest_is_manifest_blob_unknown(http: httpx.Client, repo: str) -> None:
    """A registry MAY reject a manifest naming manifests it lacks, with MANIFEST_BLOB_UNKNOWN (spec "Push")."""
    known = push_image(http, repo)
    ghost = Manifest(canonical_json({"schemaVersion": 2, "ghost": random_bytes(4).hex()}), OCI_MANIFEST)
    index = index_manifest([known, ghost])
    assert_error(put_manifest(http, repo, "multi", index.body, OCI_INDEX), 400, "MANIFEST_BLOB_UNKNOWN")
    assert http.head(f"/v2/{repo}/manifests/multi").status_code == 404


def test_index_naming_a_manifest_of_another_repository_is_refused(http: httpx.Client, repo: str) -> None:
    other = unique_repo()
    foreign = push_image(http, other)
    push_image(http, repo)
    index = index_manifest([foreign])
    assert_error(put_manifest(http, repo, "multi", index.body, OCI_INDEX), 400, "MANIFEST_BLOB_UNKNOWN")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: {k: v for k, v in d.items() if k != "manifests"},
        lambda d: {**d, "manifests": {}},
        lambda d: {**d, "schemaVersion": 1},
        lambda d: {**d, "mediaType": OCI_MANIFEST},
    ],
    ids=["no-manifests", "manifests-not-a-list", "schema-version-1", "media-type-contradicts-content-type"],
)
def test_invalid_index_is_manifest_invalid(
    http: httpx.Client, repo: str, mutate: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    index = index_manifest([push_image(http, repo)])
    response = put_manifest(http, repo, "multi", canonical_json(mutate(index.document)), OCI_INDEX)
    assert_error(response, 400, "MANIFEST_INVALID")


def test_artifact_with_empty_config_round_trips(http: httpx.Client, repo: str) -> None:
    """An artifact is an image manifest with `artifactType` and the empty config.

    See image-spec manifest.md, "Guidelines for Artifact Usage".
    """
    artifact = push_artifact(http, repo, "application/vnd.example.sbom.v1", tag="sbom")
    assert artifact.document["config"] == {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2}
    assert_serves(http.get(f"/v2/{repo}/manifests/sbom"), artifact)
    config = http.get(f"/v2/{repo}/blobs/{EMPTY_DIGEST}")
    assert config.status_code == 200
    assert config.content == b"{}"


def test_artifact_without_layers_is_accepted(http: httpx.Client, repo: str) -> None:
    """`layers` may be empty for an artifact; portability only says it SHOULD have one entry."""
    artifact = artifact_manifest(push_empty_config(http, repo), "application/vnd.example.note.v1", layers=[])
    push_manifest(http, repo, artifact, "note")
    assert_serves(http.get(f"/v2/{repo}/manifests/note"), artifact)


def test_artifact_with_empty_descriptor_as_layer(http: httpx.Client, repo: str) -> None:
    empty = push_empty_config(http, repo)
    artifact = artifact_manifest(empty, "application/vnd.example.marker.v1", layers=[empty])
    push_manifest(http, repo, artifact)
    assert_serves(http.get(f"/v2/{repo}/manifests/{artifact.digest}"), artifact)


def test_artifact_whose_empty_config_was_not_pushed_is_manifest_blob_unknown(http: httpx.Client, repo: str) -> None:
    """Even the well-known empty blob must be in the repository before a manifest can name it."""
    layer = push_blob(http, repo, random_bytes(64))
    empty = Blob(EMPTY_CONFIG_BYTES, EMPTY_DIGEST, OCI_EMPTY)
    artifact = artifact_manifest(empty, "application/vnd.example.sbom.v1", layers=[layer])
    response = put_manifest(http, repo, "sbom", artifact.body, OCI_MANIFEST)
    assert_error(response, 400, "MANIFEST_BLOB_UNKNOWN")


def test_index_with_artifact_type_round_trips(http: httpx.Client, repo: str) -> None:
    children = [push_artifact(http, repo, "application/vnd.example.part.v1") for _ in range(2)]
    index = index_manifest(children, artifact_type="application/vnd.example.bundle.v1")
    push_manifest(http, repo, index, "bundle")
    assert_serves(http.get(f"/v2/{repo}/manifests/bundle"), index)
