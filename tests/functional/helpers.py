"""Small building blocks for functional tests: content, digests, pushes and error checks.

Everything here talks to the registry only through its HTTP API, the way a client would, so the
tests stay short and read like the behaviour they pin.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

# Media types (OCI image-spec "Media Types", Docker image manifest v2 schema 2).
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

# What a client that understands every manifest type sends (spec "Pulling manifests": Accept).
MANIFEST_ACCEPT = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, "*/*"])

# The empty descriptor's content (image-spec manifest.md, "Guidance for an Empty Descriptor").
EMPTY_CONFIG_BYTES = b"{}"

MiB = 1024 * 1024


# --- content and digests ---------------------------------------------------------------------


def random_bytes(size: int) -> bytes:
    """Fresh random content, so every blob is new to the registry."""
    return os.urandom(size)


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    """The `algorithm:hex` digest of `data` (image-spec descriptor.md, "Digests")."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def sha256(data: bytes) -> str:
    return digest_of(data, "sha256")


def sha512(data: bytes) -> str:
    return digest_of(data, "sha512")


def unique_repo(prefix: str = "functional") -> str:
    """A repository name no other test uses (the server is shared by the whole session)."""
    return f"{prefix}/r{uuid.uuid4().hex[:16]}"


def unique_tag(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def canonical_json(document: Any) -> bytes:
    """A compact JSON encoding; tests that care about exact bytes build their own."""
    return json.dumps(document, separators=(",", ":")).encode()


# --- errors ----------------------------------------------------------------------------------

# "The code field MUST be one of the following" (spec "Error Codes").
SPEC_ERROR_CODES = frozenset(
    {
        "BLOB_UNKNOWN",
        "BLOB_UPLOAD_INVALID",
        "BLOB_UPLOAD_UNKNOWN",
        "DIGEST_INVALID",
        "MANIFEST_BLOB_UNKNOWN",
        "MANIFEST_INVALID",
        "MANIFEST_UNKNOWN",
        "NAME_INVALID",
        "NAME_UNKNOWN",
        "SIZE_INVALID",
        "UNAUTHORIZED",
        "DENIED",
        "UNSUPPORTED",
        "TOOMANYREQUESTS",
    }
)


def error_codes(response: httpx.Response) -> list[str]:
    """The `code` of each error in a spec error body (spec "Error Codes")."""
    body = response.json()
    return [error["code"] for error in body["errors"]]


def assert_error(response: httpx.Response, status: int | Iterable[int], code: str | Iterable[str] | None) -> None:
    """Assert the response is the spec's JSON error (`{"errors":[{"code","message","detail"?}]}`).

    `status` and `code` may each be one value or a set of accepted values; `code=None` checks the
    body's shape only (every code still one of the spec's), for failures the spec gives no code
    for. A HEAD response has no body, so only its status is checked.
    """
    statuses = {status} if isinstance(status, int) else set(status)
    assert response.status_code in statuses, (
        f"expected status {sorted(statuses)}, got {response.status_code}: {response.text[:500]}"
    )
    if response.request.method == "HEAD":
        return
    content_type = response.headers.get("content-type", "")
    assert content_type.split(";")[0].strip() == "application/json", f"error Content-Type is {content_type!r}"
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"], body
    for error in body["errors"]:
        assert isinstance(error, dict), body
        assert error.get("code") in SPEC_ERROR_CODES, f"{error.get('code')!r} is not a spec error code: {body}"
        if "message" in error:
            assert isinstance(error["message"], str), body
    if code is not None:
        codes = {code} if isinstance(code, str) else set(code)
        assert codes & set(error_codes(response)), f"expected one of {sorted(codes)}, got {body}"


def assert_no_server_error(response: httpx.Response | RawResponse) -> None:
    status = response.status_code
    assert status < 500, f"server error {status}: {response.text[:500]}"


# --- URLs ------------------------------------------------------------------------------------


def resolve(response: httpx.Response, location: str | None = None) -> str:
    """The absolute URL of a `Location`, which may be relative or absolute (RFC 7231 §7.1.2)."""
    location = location if location is not None else response.headers["location"]
    return str(response.request.url.join(location))


def with_query(url: str, **params: str) -> str:
    """Add query parameters to an upload URL, keeping the ones the registry put there."""
    return str(httpx.URL(url).copy_merge_params(params))


def parse_range(value: str) -> tuple[int, int]:
    """Parse an upload `Range: 0-<end>` header (inclusive on both ends)."""
    value = value.removeprefix("bytes=")
    start, _, end = value.partition("-")
    return int(start), int(end)


@dataclass
class RawResponse:
    """A response read by `raw_request`."""

    status_code: int
    headers: dict[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


def raw_request(
    base_url: str, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> RawResponse:
    """Send `path` exactly as written (no dot-segment removal, no re-encoding), as an attacker would."""
    url = httpx.URL(base_url)
    connection = http.client.HTTPConnection(url.host, url.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        content = response.read()
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, content)
    finally:
        connection.close()


def assert_raw_error(response: RawResponse, statuses: Iterable[int], codes: Iterable[str] | None = None) -> None:
    """Like `assert_error`, for a `RawResponse`; a 404 from a route that matched nothing may have any body."""
    statuses = set(statuses)
    assert response.status_code in statuses, f"expected {sorted(statuses)}, got {response.status_code}: {response.text}"
    if codes is not None and response.content:
        assert response.headers.get("content-type", "").startswith("application/json"), response.headers
        found = {error["code"] for error in response.json()["errors"]}
        assert found <= SPEC_ERROR_CODES, response.text
        assert set(codes) & found, response.text


# --- blobs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Blob:
    """A blob the test pushed, with its descriptor fields."""

    data: bytes
    digest: str
    media_type: str = "application/octet-stream"

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self, media_type: str | None = None, **extra: Any) -> dict[str, Any]:
        return {"mediaType": media_type or self.media_type, "digest": self.digest, "size": self.size, **extra}


def start_upload(client: httpx.Client, repo: str) -> str:
    """Open an upload session (POST, spec end-4a) and return its absolute location."""
    response = client.post(f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
    assert response.status_code == 202, response.text
    return resolve(response)


def push_blob(
    client: httpx.Client,
    repo: str,
    data: bytes | None = None,
    *,
    algorithm: str = "sha256",
    media_type: str = "application/octet-stream",
) -> Blob:
    """Push a blob with POST then PUT (spec "POST then PUT") and return it."""
    data = random_bytes(512) if data is None else data
    digest = digest_of(data, algorithm)
    location = start_upload(client, repo)
    response = client.put(
        with_query(location, digest=digest), content=data, headers={"Content-Type": "application/octet-stream"}
    )
    assert response.status_code == 201, response.text
    return Blob(data, digest, media_type)


def patch_chunk(client: httpx.Client, location: str, chunk: bytes, start: int) -> httpx.Response:
    """Send one chunk with `Content-Range: <start>-<end>` (inclusive, spec "Pushing a blob in chunks")."""
    return client.patch(
        location,
        content=chunk,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{start}-{start + len(chunk) - 1}",
            "Content-Length": str(len(chunk)),
        },
    )


def push_blob_chunked(client: httpx.Client, repo: str, data: bytes, chunk_size: int, algorithm: str = "sha256") -> Blob:
    """Push a blob in ordered PATCH chunks, then close the session with an empty PUT."""
    location = start_upload(client, repo)
    for start in range(0, len(data), chunk_size):
        response = patch_chunk(client, location, data[start : start + chunk_size], start)
        assert response.status_code == 202, response.text
        location = resolve(response)
    digest = digest_of(data, algorithm)
    response = client.put(with_query(location, digest=digest))
    assert response.status_code == 201, response.text
    return Blob(data, digest)


def assert_digest_header(response: httpx.Response, data: bytes) -> None:
    """`Docker-Content-Digest`, when present, is a digest of the body in its own algorithm, which MAY differ
    from the one the client used (spec "Pulling blobs": "MUST be a digest matching that of the response body")."""
    header = response.headers.get("docker-content-digest")
    if header is not None:
        algorithm = header.partition(":")[0]
        assert algorithm in ("sha256", "sha512"), header
        assert header == digest_of(data, algorithm)


def blob_exists(client: httpx.Client, repo: str, digest: str) -> bool:
    response = client.head(f"/v2/{repo}/blobs/{digest}")
    assert response.status_code in (200, 404), response.status_code
    return response.status_code == 200


# --- manifests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    """A manifest the test built (and usually pushed): its exact bytes and descriptor fields."""

    body: bytes
    media_type: str
    document: dict[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return sha256(self.body)

    @property
    def size(self) -> int:
        return len(self.body)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


def put_manifest(
    client: httpx.Client, repo: str, reference: str, body: bytes, media_type: str | None
) -> httpx.Response:
    """PUT raw manifest bytes (spec end-7); `media_type=None` sends no Content-Type."""
    headers = {"Content-Type": media_type} if media_type else {}
    return client.put(f"/v2/{repo}/manifests/{reference}", content=body, headers=headers)


def push_manifest(client: httpx.Client, repo: str, manifest: Manifest, reference: str | None = None) -> Manifest:
    """Push a manifest by tag, or by its digest when `reference` is None; assert 201."""
    response = put_manifest(client, repo, reference or manifest.digest, manifest.body, manifest.media_type)
    assert response.status_code == 201, response.text
    return manifest


def image_manifest(
    config: Blob,
    layers: list[Blob],
    *,
    media_type: str = OCI_MANIFEST,
    config_media_type: str | None = None,
    layer_media_type: str | None = None,
    artifact_type: str | None = None,
    subject: Manifest | None = None,
    annotations: dict[str, str] | None = None,
) -> Manifest:
    """Build an image manifest (OCI image manifest or Docker schema 2) over pushed blobs."""
    docker = media_type == DOCKER_MANIFEST
    document: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
    if artifact_type is not None:
        document["artifactType"] = artifact_type
    document["config"] = config.descriptor(config_media_type or (DOCKER_CONFIG if docker else OCI_CONFIG))
    document["layers"] = [
        layer.descriptor(layer_media_type or (DOCKER_LAYER if docker else OCI_LAYER)) for layer in layers
    ]
    if subject is not None:
        document["subject"] = subject.descriptor()
    if annotations:
        document["annotations"] = annotations
    return Manifest(canonical_json(document), media_type, document)


def index_manifest(
    children: list[Manifest],
    *,
    media_type: str = OCI_INDEX,
    artifact_type: str | None = None,
    subject: Manifest | None = None,
    annotations: dict[str, str] | None = None,
) -> Manifest:
    """Build an OCI image index or Docker manifest list over `children`."""
    document: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
    if artifact_type is not None:
        document["artifactType"] = artifact_type
    platforms = [{"architecture": arch, "os": "linux"} for arch in ("amd64", "arm64", "riscv64", "s390x", "386")]
    document["manifests"] = [
        child.descriptor(platform=platforms[position % len(platforms)]) for position, child in enumerate(children)
    ]
    if subject is not None:
        document["subject"] = subject.descriptor()
    if annotations:
        document["annotations"] = annotations
    return Manifest(canonical_json(document), media_type, document)


def push_image(
    client: httpx.Client,
    repo: str,
    tag: str | None = None,
    *,
    media_type: str = OCI_MANIFEST,
    layer_count: int = 1,
    artifact_type: str | None = None,
    subject: Manifest | None = None,
    annotations: dict[str, str] | None = None,
) -> Manifest:
    """Push a config, `layer_count` layers and an image manifest over them; by tag or digest."""
    config = push_blob(
        client, repo, canonical_json({"architecture": "amd64", "os": "linux", "nonce": uuid.uuid4().hex})
    )
    layers = [push_blob(client, repo, random_bytes(256)) for _ in range(layer_count)]
    manifest = image_manifest(
        config, layers, media_type=media_type, artifact_type=artifact_type, subject=subject, annotations=annotations
    )
    return push_manifest(client, repo, manifest, tag)


def push_empty_config(client: httpx.Client, repo: str) -> Blob:
    """Push the empty descriptor's content `{}` (image-spec "Guidance for an Empty Descriptor")."""
    return push_blob(client, repo, EMPTY_CONFIG_BYTES, media_type=OCI_EMPTY)


def artifact_manifest(
    empty_config: Blob,
    artifact_type: str,
    *,
    layers: list[Blob] | None = None,
    subject: Manifest | None = None,
    annotations: dict[str, str] | None = None,
) -> Manifest:
    """Build an OCI artifact: an image manifest with `artifactType` and the empty config."""
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": empty_config.descriptor(OCI_EMPTY),
        "layers": [layer.descriptor() for layer in layers or []],
    }
    if subject is not None:
        document["subject"] = subject.descriptor()
    if annotations:
        document["annotations"] = annotations
    return Manifest(canonical_json(document), OCI_MANIFEST, document)


def push_artifact(
    client: httpx.Client,
    repo: str,
    artifact_type: str,
    *,
    subject: Manifest | None = None,
    annotations: dict[str, str] | None = None,
    tag: str | None = None,
) -> Manifest:
    """Push an OCI artifact with one small blob as its layer, by digest unless a tag is given."""
    empty = push_empty_config(client, repo)
    layer = push_blob(client, repo, random_bytes(64), media_type="application/vnd.example.payload")
    manifest = artifact_manifest(empty, artifact_type, layers=[layer], subject=subject, annotations=annotations)
    return push_manifest(client, repo, manifest, tag)


def catalog(client: httpx.Client) -> list[str]:
    """Every repository in the catalog, following `Link: <...>; rel="next"` pages."""
    names: list[str] = []
    url: str | None = "/v2/_catalog?n=500"
    while url is not None:
        response = client.get(url)
        assert response.status_code == 200, response.text
        names += response.json()["repositories"] or []
        url = response.links.get("next", {}).get("url")
    return names


def tags_of(client: httpx.Client, repo: str) -> list[str]:
    response = client.get(f"/v2/{repo}/tags/list")
    assert response.status_code == 200, response.text
    return list(response.json()["tags"] or [])
