"""Pushing, pulling and deleting image manifests (spec end-3, end-7, end-9; image-spec manifest.md)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.functional.helpers import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Blob,
    Manifest,
    MiB,
    assert_error,
    canonical_json,
    image_manifest,
    push_blob,
    push_image,
    push_manifest,
    put_manifest,
    random_bytes,
    resolve,
    sha256,
    sha512,
    tags_of,
    unique_repo,
)

IMAGE_TYPES = pytest.mark.parametrize("media_type", [OCI_MANIFEST, DOCKER_MANIFEST], ids=["oci", "docker"])


def assert_serves(response: httpx.Response, manifest: Manifest, *, body: bool = True) -> None:
    """GET/HEAD of a manifest: exact stored bytes, its media type, digest and length."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == manifest.media_type
    assert response.headers["docker-content-digest"] == manifest.digest
    assert int(response.headers["content-length"]) == manifest.size
    assert response.content == (manifest.body if body else b"")


def build_image(http: httpx.Client, repo: str, media_type: str = OCI_MANIFEST) -> Manifest:
    config = push_blob(http, repo, canonical_json({"architecture": "amd64", "os": "linux", "n": random_bytes(4).hex()}))
    layers = [push_blob(http, repo, random_bytes(300)) for _ in range(2)]
    return image_manifest(config, layers, media_type=media_type)


@IMAGE_TYPES
def test_put_by_tag_answers_201_with_location_and_digest(http: httpx.Client, repo: str, media_type: str) -> None:
    manifest = build_image(http, repo, media_type)
    response = put_manifest(http, repo, "v1", manifest.body, media_type)
    assert response.status_code == 201, response.text
    assert response.headers["docker-content-digest"] == manifest.digest
    assert_serves(http.get(resolve(response)), manifest)  # Location is a pullable manifest URL


@IMAGE_TYPES
def test_get_by_tag_and_by_digest_returns_the_exact_bytes(http: httpx.Client, repo: str, media_type: str) -> None:
    manifest = push_manifest(http, repo, build_image(http, repo, media_type), "v1")
    accept = {"Accept": media_type}
    assert_serves(http.get(f"/v2/{repo}/manifests/v1", headers=accept), manifest)
    assert_serves(http.get(f"/v2/{repo}/manifests/{manifest.digest}", headers=accept), manifest)


@IMAGE_TYPES
def test_head_returns_the_headers_without_body(http: httpx.Client, repo: str, media_type: str) -> None:
    manifest = push_manifest(http, repo, build_image(http, repo, media_type), "v1")
    assert_serves(http.head(f"/v2/{repo}/manifests/v1", headers={"Accept": media_type}), manifest, body=False)
    assert_serves(http.head(f"/v2/{repo}/manifests/{manifest.digest}"), manifest, body=False)


def test_put_by_digest_stores_an_untagged_manifest(http: httpx.Client, repo: str) -> None:
    manifest = build_image(http, repo)
    response = put_manifest(http, repo, manifest.digest, manifest.body, OCI_MANIFEST)
    assert response.status_code == 201
    assert response.headers["docker-content-digest"] == manifest.digest
    assert_serves(http.get(f"/v2/{repo}/manifests/{manifest.digest}"), manifest)
    assert tags_of(http, repo) == []


def test_stored_bytes_are_not_reformatted(http: httpx.Client, repo: str) -> None:
    """The digest is of the exact bytes pushed, so whitespace and key order are kept (spec "Pulling manifests")."""
    built = build_image(http, repo)
    document = built.document
    odd = (
        json.dumps(
            {"layers": document["layers"], "schemaVersion": 2, "config": document["config"], "mediaType": OCI_MANIFEST},
            indent=3,
        ).encode()
        + b"\n\n"
    )
    manifest = Manifest(odd, OCI_MANIFEST, document)
    push_manifest(http, repo, manifest, "odd")
    assert_serves(http.get(f"/v2/{repo}/manifests/odd"), manifest)


def test_put_by_sha512_digest(http: httpx.Client, repo: str) -> None:
    manifest = build_image(http, repo)
    digest = sha512(manifest.body)
    response = put_manifest(http, repo, digest, manifest.body, OCI_MANIFEST)
    assert response.status_code == 201, response.text
    # "The Docker-Content-Digest header ... MUST be equal to the client provided digest" (spec "Pushing Manifests")
    assert response.headers["docker-content-digest"] == digest
    response = http.get(f"/v2/{repo}/manifests/{digest}")
    assert response.status_code == 200
    assert response.content == manifest.body


def test_put_by_digest_that_does_not_match_is_digest_invalid(http: httpx.Client, repo: str) -> None:
    manifest = build_image(http, repo)
    wrong = sha256(manifest.body + b" ")
    assert_error(put_manifest(http, repo, wrong, manifest.body, OCI_MANIFEST), 400, "DIGEST_INVALID")
    assert_error(http.get(f"/v2/{repo}/manifests/{manifest.digest}"), 404, {"MANIFEST_UNKNOWN", "NAME_UNKNOWN"})


def test_repush_of_same_manifest_is_idempotent(http: httpx.Client, repo: str) -> None:
    manifest = push_manifest(http, repo, build_image(http, repo), "v1")
    push_manifest(http, repo, manifest, "v1")
    push_manifest(http, repo, manifest)
    assert_serves(http.get(f"/v2/{repo}/manifests/v1"), manifest)


def test_tag_moves_to_the_manifest_pushed_last(http: httpx.Client, repo: str) -> None:
    first = push_manifest(http, repo, build_image(http, repo), "latest")
    second = push_manifest(http, repo, build_image(http, repo), "latest")
    assert_serves(http.get(f"/v2/{repo}/manifests/latest"), second)
    assert_serves(http.get(f"/v2/{repo}/manifests/{first.digest}"), first)  # untagged, still there
    assert tags_of(http, repo) == ["latest"]


def test_one_manifest_under_two_tags(http: httpx.Client, repo: str) -> None:
    manifest = push_manifest(http, repo, build_image(http, repo), "a")
    push_manifest(http, repo, manifest, "b")
    assert_serves(http.get(f"/v2/{repo}/manifests/a"), manifest)
    assert_serves(http.get(f"/v2/{repo}/manifests/b"), manifest)


@pytest.mark.parametrize("missing", ["config", "layer"])
def test_manifest_naming_an_unknown_blob_is_manifest_blob_unknown(http: httpx.Client, repo: str, missing: str) -> None:
    """Spec: When a manifest is rejected for this reason, it MUST result in one or more MANIFEST_BLOB_UNKNOWN errors."""
    config = push_blob(http, repo, canonical_json({"os": "linux"}))
    layer = push_blob(http, repo, random_bytes(100))
    ghost = Blob(random_bytes(100), sha256(random_bytes(100)))
    manifest = image_manifest(ghost, [layer]) if missing == "config" else image_manifest(config, [layer, ghost])
    assert_error(put_manifest(http, repo, "v1", manifest.body, OCI_MANIFEST), 400, "MANIFEST_BLOB_UNKNOWN")
    assert http.head(f"/v2/{repo}/manifests/v1").status_code == 404


def test_manifest_naming_a_blob_only_another_repository_has_is_refused(http: httpx.Client, repo: str) -> None:
    other = unique_repo()
    manifest = build_image(http, other)
    push_blob(http, repo)
    assert_error(put_manifest(http, repo, "v1", manifest.body, OCI_MANIFEST), 400, "MANIFEST_BLOB_UNKNOWN")


def test_descriptor_with_the_wrong_size_is_manifest_invalid(http: httpx.Client, repo: str) -> None:
    """Image-spec descriptor.md: `size` MUST be the blob's exact length, so a pull can trust it."""
    config = push_blob(http, repo, canonical_json({"os": "linux"}))
    layer = push_blob(http, repo, random_bytes(100))
    document = image_manifest(config, [layer]).document
    document["layers"][0]["size"] = 101
    assert_error(put_manifest(http, repo, "v1", canonical_json(document), OCI_MANIFEST), 400, "MANIFEST_INVALID")
    assert http.head(f"/v2/{repo}/manifests/v1").status_code == 404


def _valid(http: httpx.Client, repo: str) -> dict:
    return build_image(http, repo).document


def _without(document: dict, key: str) -> dict:
    return {k: v for k, v in document.items() if k != key}


INVALID_BODIES = {
    "not-json": lambda d: b'{"schemaVersion": 2, ',
    "json-array": lambda d: b"[]",
    "json-string": lambda d: b'"manifest"',
    "empty-body": lambda d: b"",
    "schema-version-1": lambda d: canonical_json({**d, "schemaVersion": 1}),
    "schema-version-3": lambda d: canonical_json({**d, "schemaVersion": 3}),
    "schema-version-string": lambda d: canonical_json({**d, "schemaVersion": "2"}),
    "no-schema-version": lambda d: canonical_json(_without(d, "schemaVersion")),
    "no-config": lambda d: canonical_json(_without(d, "config")),
    "no-layers": lambda d: canonical_json(_without(d, "layers")),
    "layers-not-a-list": lambda d: canonical_json({**d, "layers": d["layers"][0]}),
    "config-without-digest": lambda d: canonical_json({**d, "config": _without(d["config"], "digest")}),
    "media-type-contradicts-content-type": lambda d: canonical_json({**d, "mediaType": DOCKER_MANIFEST}),
    "index-media-type-in-image": lambda d: canonical_json({**d, "mediaType": OCI_INDEX}),
}


@pytest.mark.parametrize("kind", list(INVALID_BODIES))
def test_invalid_manifest_is_manifest_invalid(http: httpx.Client, repo: str, kind: str) -> None:
    body = INVALID_BODIES[kind](_valid(http, repo))
    response = put_manifest(http, repo, "v1", body, OCI_MANIFEST)
    assert_error(response, 400, "MANIFEST_INVALID")
    assert http.head(f"/v2/{repo}/manifests/v1").status_code == 404


def test_manifest_with_malformed_descriptor_digest_is_refused(http: httpx.Client, repo: str) -> None:
    document = _valid(http, repo)
    document["layers"][0]["digest"] = "sha256:" + "Z" * 64
    response = put_manifest(http, repo, "v1", canonical_json(document), OCI_MANIFEST)
    assert_error(response, 400, {"MANIFEST_INVALID", "DIGEST_INVALID"})


def test_manifest_larger_than_4_mib_is_refused_with_413(http: httpx.Client, repo: str) -> None:
    """Spec "Pushing Manifests": a registry enforcing a limit SHOULD answer 413 Payload Too Large.

    The spec names no error code for it; MANIFEST_INVALID is the closest (SIZE_INVALID is tolerated).
    """
    document = _valid(http, repo)
    document["annotations"] = {"padding": "x" * (4 * MiB + 1024)}
    response = put_manifest(http, repo, "big", canonical_json(document), OCI_MANIFEST)
    assert_error(response, 413, {"MANIFEST_INVALID", "SIZE_INVALID"})
    assert http.head(f"/v2/{repo}/manifests/big").status_code == 404


def test_manifest_just_under_4_mib_is_accepted(http: httpx.Client, repo: str) -> None:
    """Spec: implementations SHOULD expect to support manifest pushes of at least 4 megabytes."""
    document = _valid(http, repo)
    document["annotations"] = {"padding": "x" * (4 * MiB - 4096)}
    manifest = Manifest(canonical_json(document), OCI_MANIFEST, document)
    assert manifest.size <= 4 * MiB
    push_manifest(http, repo, manifest, "big")
    assert_serves(http.get(f"/v2/{repo}/manifests/big"), manifest)


def test_unknown_tag_is_manifest_unknown(http: httpx.Client, repo: str) -> None:
    push_manifest(http, repo, build_image(http, repo), "v1")
    assert_error(http.get(f"/v2/{repo}/manifests/nope"), 404, "MANIFEST_UNKNOWN")
    assert http.head(f"/v2/{repo}/manifests/nope").status_code == 404


def test_unknown_digest_is_manifest_unknown(http: httpx.Client, repo: str) -> None:
    push_manifest(http, repo, build_image(http, repo), "v1")
    missing = sha256(random_bytes(10))
    assert_error(http.get(f"/v2/{repo}/manifests/{missing}"), 404, "MANIFEST_UNKNOWN")
    assert http.head(f"/v2/{repo}/manifests/{missing}").status_code == 404


def test_manifest_in_unknown_repository_is_not_found(http: httpx.Client) -> None:
    """The spec demands 404 for a nonexistent repository; either code describes it."""
    repo = unique_repo()
    assert_error(http.get(f"/v2/{repo}/manifests/latest"), 404, {"NAME_UNKNOWN", "MANIFEST_UNKNOWN"})
    assert_error(http.get(f"/v2/{repo}/manifests/{sha256(b'x')}"), 404, {"NAME_UNKNOWN", "MANIFEST_UNKNOWN"})


def test_manifest_of_another_repository_is_not_readable(http: httpx.Client, repo: str) -> None:
    manifest = push_manifest(http, repo, build_image(http, repo), "v1")
    other = unique_repo()
    push_manifest(http, other, build_image(http, other), "v1")
    assert_error(http.get(f"/v2/{other}/manifests/{manifest.digest}"), 404, "MANIFEST_UNKNOWN")


def test_delete_by_digest_removes_the_manifest_and_its_tags(http: httpx.Client, repo: str) -> None:
    manifest = push_manifest(http, repo, build_image(http, repo), "v1")
    push_manifest(http, repo, manifest, "v2")
    keep = push_manifest(http, repo, build_image(http, repo), "keep")
    assert http.delete(f"/v2/{repo}/manifests/{manifest.digest}").status_code == 202
    assert_error(http.get(f"/v2/{repo}/manifests/{manifest.digest}"), 404, "MANIFEST_UNKNOWN")
    assert_error(http.get(f"/v2/{repo}/manifests/v1"), 404, "MANIFEST_UNKNOWN")
    assert_error(http.get(f"/v2/{repo}/manifests/v2"), 404, "MANIFEST_UNKNOWN")
    assert tags_of(http, repo) == ["keep"]
    assert_serves(http.get(f"/v2/{repo}/manifests/keep"), keep)


def test_delete_by_tag_removes_only_the_tag(http: httpx.Client, repo: str) -> None:
    """Deleting a tag leaves the manifest, still reachable by digest and by its other tags (spec "Deleting tags")."""
    manifest = push_manifest(http, repo, build_image(http, repo), "v1")
    push_manifest(http, repo, manifest, "stable")
    assert http.delete(f"/v2/{repo}/manifests/v1").status_code == 202
    assert_error(http.get(f"/v2/{repo}/manifests/v1"), 404, "MANIFEST_UNKNOWN")
    assert_serves(http.get(f"/v2/{repo}/manifests/{manifest.digest}"), manifest)
    assert_serves(http.get(f"/v2/{repo}/manifests/stable"), manifest)
    assert tags_of(http, repo) == ["stable"]


def test_deleted_manifest_can_be_pushed_again(http: httpx.Client, repo: str) -> None:
    manifest = push_manifest(http, repo, build_image(http, repo), "v1")
    assert http.delete(f"/v2/{repo}/manifests/{manifest.digest}").status_code == 202
    push_manifest(http, repo, manifest, "v1")
    assert_serves(http.get(f"/v2/{repo}/manifests/v1"), manifest)


def test_delete_unknown_manifest_is_manifest_unknown(http: httpx.Client, repo: str) -> None:
    push_manifest(http, repo, build_image(http, repo), "v1")
    assert_error(http.delete(f"/v2/{repo}/manifests/{sha256(b'none')}"), 404, "MANIFEST_UNKNOWN")
    assert_error(http.delete(f"/v2/{repo}/manifests/none"), 404, "MANIFEST_UNKNOWN")


def test_delete_in_unknown_repository_is_not_found(http: httpx.Client) -> None:
    response = http.delete(f"/v2/{unique_repo()}/manifests/{sha256(b'none')}")
    assert_error(response, 404, {"NAME_UNKNOWN", "MANIFEST_UNKNOWN"})


def test_blobs_stay_readable_after_their_manifest_is_deleted(http: httpx.Client, repo: str) -> None:
    """Deleting a manifest does not delete the blobs it named; collecting them is garbage collection's job."""
    manifest = push_image(http, repo, "v1")
    assert http.delete(f"/v2/{repo}/manifests/{manifest.digest}").status_code == 202
    layer = manifest.document["layers"][0]
    assert http.head(f"/v2/{repo}/blobs/{layer['digest']}").status_code == 200
