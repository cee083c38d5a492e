"""Repository names, tags, digests and path traversal (spec "Pulling manifests" grammar; image-spec "Digests").

Every refusal here is a 4xx with the spec's error body, never a 500, and never touches anything
outside the registry's data directory.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.functional.helpers import (
    OCI_MANIFEST,
    assert_digest_header,
    assert_error,
    assert_no_server_error,
    assert_raw_error,
    catalog,
    push_blob,
    push_image,
    push_manifest,
    random_bytes,
    raw_request,
    sha256,
    start_upload,
    unique_repo,
)
from tests.support.server import RunningRegistry

BAD_DIGESTS = {
    "unknown-algorithm": "md5:" + "a" * 32,
    "sha256-short": "sha256:" + "a" * 63,
    "sha256-long": "sha256:" + "a" * 65,
    "sha256-uppercase": "sha256:" + "A" * 64,
    "sha256-non-hex": "sha256:" + "z" * 64,
    "sha512-short": "sha512:" + "b" * 64,
    "sha512-uppercase": "sha512:" + "B" * 128,
    "empty-hex": "sha256:",
}
bad_digest = pytest.mark.parametrize("digest", list(BAD_DIGESTS.values()), ids=list(BAD_DIGESTS))


# --- repository names ------------------------------------------------------------------------

INVALID_NAMES = {
    "uppercase": "Functional/Upper",
    "double-period": "functional/a..b",
    "leading-separator": "functional/-abc",
    "trailing-separator": "functional/abc-",
    "leading-period": "functional/.abc",
    "empty-component": "functional//abc",
    "trailing-slash-component": "functional/abc/",
    "dot-component": "functional/./abc",
    "space": "functional/a%20b",
    "encoded-dot-dot": "functional/%2e%2e/abc",
    "encoded-slash": "functional%2Fabc",
    "too-long": "functional/" + "a" * 256,
}


@pytest.mark.parametrize("name", list(INVALID_NAMES.values()), ids=list(INVALID_NAMES))
def test_invalid_repository_name_is_refused_on_every_endpoint(registry: RunningRegistry, name: str) -> None:
    """`<name>` MUST match `[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*`."""
    digest = sha256(b"x")
    attempts = [
        ("POST", f"/v2/{name}/blobs/uploads/", b""),
        ("POST", f"/v2/{name}/blobs/uploads/?digest={digest}", b"x"),
        ("GET", f"/v2/{name}/blobs/{digest}", None),
        ("PUT", f"/v2/{name}/manifests/latest", b"{}"),
        ("GET", f"/v2/{name}/manifests/latest", None),
        ("GET", f"/v2/{name}/tags/list", None),
        ("GET", f"/v2/{name}/referrers/{digest}", None),
    ]
    for method, path, body in attempts:
        response = raw_request(registry.url, method, path, body, {"Content-Type": "application/octet-stream"})
        assert_raw_error(response, {400, 404}, {"NAME_INVALID", "NAME_UNKNOWN", "BLOB_UNKNOWN", "MANIFEST_UNKNOWN"})
        if response.status_code == 400:
            assert "NAME_INVALID" in {e["code"] for e in response.json()["errors"]}, (method, path, response.text)


def test_a_pushed_invalid_name_never_becomes_a_repository(http: httpx.Client, registry: RunningRegistry) -> None:
    raw_request(registry.url, "POST", "/v2/Functional/Upper/blobs/uploads/", b"")
    raw_request(registry.url, "POST", f"/v2/Functional/Upper/blobs/uploads/?digest={sha256(b'x')}", b"x")
    assert all(name == name.lower() for name in catalog(http))


@pytest.mark.parametrize(
    "name",
    ["a", "functional/a__b", "functional/a---b", "functional/a.b_c-d", "functional/x/y/z/w", "functional/" + "n" * 180],
    ids=["one-char", "double-underscore", "dashes", "mixed-separators", "deep", "long"],
)
def test_valid_unusual_names_work(http: httpx.Client, name: str) -> None:
    name = name if name != "a" else f"a{random_bytes(4).hex()}"
    manifest = push_image(http, name, "v1")
    assert http.get(f"/v2/{name}/manifests/v1").content == manifest.body
    assert http.get(f"/v2/{name}/tags/list").json()["name"] == name


# --- tags ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    ["a" * 129, ".hidden", "-dash", "with:colon", "with+plus"],
    ids=["129-chars", "leading-period", "leading-dash", "colon", "plus"],
)
def test_invalid_tag_is_refused(http: httpx.Client, repo: str, tag: str) -> None:
    """A tag MUST be at most 128 characters and match `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`; the spec names no code."""
    manifest = push_image(http, repo)
    response = http.put(f"/v2/{repo}/manifests/{tag}", content=manifest.body, headers={"Content-Type": OCI_MANIFEST})
    if ":" in tag:  # `with:colon` reads as a digest of an unknown algorithm
        assert_error(response, 400, {"DIGEST_INVALID", "MANIFEST_INVALID", "TAG_INVALID", "NAME_INVALID"})
    else:
        assert_error(response, 400, None)
    assert tag not in (http.get(f"/v2/{repo}/tags/list").json()["tags"] or [])


@pytest.mark.parametrize(
    "reference",
    [*BAD_DIGESTS.values(), "a" * 129, ".hidden", "-dash", "with+plus"],
    ids=[*(f"digest-{name}" for name in BAD_DIGESTS), "tag-129-chars", "tag-leading-period", "tag-dash", "tag-plus"],
)
def test_pulling_a_reference_that_is_neither_a_tag_nor_a_digest_finds_no_manifest(
    http: httpx.Client, repo: str, reference: str
) -> None:
    """No manifest can have such a reference, so GET and HEAD answer 404 MANIFEST_UNKNOWN as Distribution does."""
    push_image(http, repo, "v1")
    assert_error(http.get(f"/v2/{repo}/manifests/{reference}"), 404, "MANIFEST_UNKNOWN")
    assert http.head(f"/v2/{repo}/manifests/{reference}").status_code == 404


@pytest.mark.parametrize(
    "tag", ["a" * 128, "_underscore", "MiXeD.Case-1_2", "0"], ids=["128-chars", "underscore", "mixed", "digit"]
)
def test_valid_unusual_tags_work(http: httpx.Client, repo: str, tag: str) -> None:
    manifest = push_manifest(http, repo, push_image(http, repo), tag)
    assert http.get(f"/v2/{repo}/manifests/{tag}").content == manifest.body
    assert tag in http.get(f"/v2/{repo}/tags/list").json()["tags"]


def test_tags_differing_only_in_case_are_distinct(http: httpx.Client, repo: str) -> None:
    upper = push_image(http, repo, "Latest")
    lower = push_image(http, repo, "latest")
    assert http.get(f"/v2/{repo}/manifests/Latest").content == upper.body
    assert http.get(f"/v2/{repo}/manifests/latest").content == lower.body


# --- digests ---------------------------------------------------------------------------------


@bad_digest
def test_malformed_digest_on_blob_endpoints_is_digest_invalid(http: httpx.Client, repo: str, digest: str) -> None:
    push_blob(http, repo)
    assert_error(http.get(f"/v2/{repo}/blobs/{digest}"), 400, "DIGEST_INVALID")
    assert http.head(f"/v2/{repo}/blobs/{digest}").status_code == 400
    assert_error(http.delete(f"/v2/{repo}/blobs/{digest}"), 400, "DIGEST_INVALID")


@bad_digest
def test_malformed_digest_as_manifest_reference_is_digest_invalid(http: httpx.Client, repo: str, digest: str) -> None:
    """Pushing or deleting by a malformed digest is a client error; pulling it finds nothing (see below)."""
    manifest = push_image(http, repo, "v1")
    assert_error(http.delete(f"/v2/{repo}/manifests/{digest}"), 400, "DIGEST_INVALID")
    put = http.put(f"/v2/{repo}/manifests/{digest}", content=manifest.body, headers={"Content-Type": OCI_MANIFEST})
    assert_error(put, 400, "DIGEST_INVALID")


@bad_digest
def test_malformed_digest_on_mount_is_digest_invalid(http: httpx.Client, repo: str, digest: str) -> None:
    push_blob(http, repo)
    response = http.post(f"/v2/{unique_repo()}/blobs/uploads/", params={"mount": digest, "from": repo})
    assert_error(response, 400, "DIGEST_INVALID")


def test_sha512_digest_is_accepted_on_every_endpoint(http: httpx.Client, repo: str) -> None:
    """sha512 is a registered algorithm (image-spec "Registered algorithms"), usable wherever sha256 is."""
    blob = push_blob(http, repo, random_bytes(100), algorithm="sha512")
    head = http.head(f"/v2/{repo}/blobs/{blob.digest}")
    assert head.status_code == 200
    assert_digest_header(head, blob.data)
    target = unique_repo()
    mounted = http.post(f"/v2/{target}/blobs/uploads/", params={"mount": blob.digest, "from": repo})
    assert mounted.status_code == 201
    assert http.get(f"/v2/{target}/blobs/{blob.digest}").content == blob.data
    assert http.delete(f"/v2/{target}/blobs/{blob.digest}").status_code == 202


# --- path traversal --------------------------------------------------------------------------


def snapshot(root: Path | None) -> set[Path]:
    """Everything beside the data directory (where a traversal would land)."""
    if root is None:
        return set()
    return set(root.parent.iterdir())


@pytest.mark.parametrize(
    "path_template",
    [
        "/v2/{repo}/blobs/sha256:../../../../etc/passwd",
        "/v2/{repo}/blobs/..%2f..%2f..%2fetc%2fpasswd",
        "/v2/{repo}/blobs/sha256:..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/v2/{repo}/blobs/uploads/../../../../etc/passwd",
        "/v2/{repo}/blobs/uploads/..%2f..%2f..%2fetc%2fpasswd",
        "/v2/{repo}/blobs/uploads/%2e%2e",
        "/v2/{repo}/manifests/..",
        "/v2/{repo}/manifests/..%2f..%2f..%2fetc%2fpasswd",
        "/v2/{repo}/manifests/sha256:..%2f..%2fetc%2fpasswd",
        "/v2/{repo}/../../../../etc/passwd/tags/list",
        "/v2/../../../etc/passwd/tags/list",
        "/v2/{repo}/%2e%2e/%2e%2e/tags/list",
        "/v2/{repo}/referrers/sha256:..%2f..%2fetc",
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "PATCH", "DELETE"])
def test_path_traversal_is_refused(registry: RunningRegistry, repo: str, path_template: str, method: str) -> None:
    before = snapshot(registry.data_dir)
    with httpx.Client(base_url=registry.url, timeout=30) as client:
        push_blob(client, repo)
    response = raw_request(
        registry.url, method, path_template.format(repo=repo), b"payload" if method in ("PUT", "PATCH") else None
    )
    assert 400 <= response.status_code < 500, f"{method} {path_template}: {response.status_code} {response.text[:300]}"
    assert b"root:" not in response.content
    assert snapshot(registry.data_dir) == before


def test_traversal_in_upload_id_cannot_finish_an_upload(
    http: httpx.Client, registry: RunningRegistry, repo: str
) -> None:
    start_upload(http, repo)
    data = b"escaped"
    response = raw_request(
        registry.url, "PUT", f"/v2/{repo}/blobs/uploads/..%2F..%2F..%2Fescape?digest={sha256(data)}", data
    )
    assert_no_server_error(response)
    assert response.status_code in (400, 404)
    assert http.head(f"/v2/{repo}/blobs/{sha256(data)}").status_code == 404
