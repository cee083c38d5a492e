"""Blobs in an S3-compatible object store: redirects to presigned URLs, and two nodes sharing one registry.

The whole functional suite already runs once on PostgreSQL + S3 (the `registry` fixture); these
tests pin what only that shape does.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import StartRegistry
from tests.functional.helpers import (
    digest_of,
    patch_chunk,
    push_blob,
    push_image,
    random_bytes,
    resolve,
    start_upload,
    unique_repo,
    with_query,
)
from tests.support.object_store import ObjectStoreServer
from tests.support.server import postgres_database


@pytest.fixture
def shared_database() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def test_blob_get_redirects_to_a_presigned_url_that_serves_the_bytes_and_ranges(
    start_registry: StartRegistry, s3_server: ObjectStoreServer
) -> None:
    node = start_registry(**s3_server.registry_settings(s3_server.new_bucket()), s3_redirect_seconds="60")
    repo = unique_repo("s3")
    data = random_bytes(4096)
    with httpx.Client(base_url=node.url, timeout=30) as client:
        blob = push_blob(client, repo, data)
        head = client.head(f"/v2/{repo}/blobs/{blob.digest}")
        assert head.status_code == 200 and head.headers["content-length"] == "4096"
        response = client.get(f"/v2/{repo}/blobs/{blob.digest}")
        assert response.status_code == 307
        assert response.headers["docker-content-digest"] == blob.digest
        target = response.headers["location"]
        assert target.startswith(s3_server.endpoint_url) and "Signature" in target
        assert httpx.get(target).content == data
        assert httpx.get(target, headers={"Range": "bytes=10-19"}).content == data[10:20]
        other_repo = client.get(f"/v2/{unique_repo('s3')}/blobs/{blob.digest}")
        assert other_repo.status_code == 404, "a digest is not a capability: no redirect for a repository without it"


def test_a_chunked_upload_started_on_one_node_finishes_on_another(
    start_registry: StartRegistry, s3_server: ObjectStoreServer, shared_database: str
) -> None:
    storage = s3_server.registry_settings(s3_server.new_bucket())
    node_a = start_registry(database_url=shared_database, **storage)
    node_b = start_registry(database_url=shared_database, **storage)
    repo = unique_repo("nodes")
    data = random_bytes(3 * 65536 + 17)
    with httpx.Client(base_url=node_a.url, timeout=30) as a, httpx.Client(base_url=node_b.url, timeout=30) as b:
        location = start_upload(a, repo)
        response = patch_chunk(a, location, data[:65536], 0)
        assert response.status_code == 202, response.text
        path = resolve(response).split(node_a.url, 1)[-1]
        response = patch_chunk(b, path, data[65536:196608], 65536)
        assert response.status_code == 202, response.text
        path = resolve(response).split(node_b.url, 1)[-1]
        status = a.get(path)
        assert status.status_code == 204 and status.headers["range"] == "0-196607"
        response = b.put(with_query(path, digest=digest_of(data)), content=data[196608:])
        assert response.status_code == 201, response.text
        assert a.get(f"/v2/{repo}/blobs/{digest_of(data)}").content == data
        image = push_image(b, repo, tag="v1")
        pulled = a.get(f"/v2/{repo}/manifests/v1", headers={"Accept": image.media_type})
        assert pulled.status_code == 200 and pulled.headers["docker-content-digest"] == image.digest


def test_a_node_is_not_ready_while_its_bucket_is_unreachable(
    start_registry: StartRegistry, s3_server: ObjectStoreServer
) -> None:
    bucket = s3_server.new_bucket()
    node = start_registry(**s3_server.registry_settings(bucket))
    assert httpx.get(f"{node.url}/readyz").status_code == 200
    s3_server.client().delete_bucket(Bucket=bucket)
    response = httpx.get(f"{node.url}/readyz")
    assert response.status_code == 503 and response.json()["status"] == "unavailable"
    assert httpx.get(f"{node.url}/healthz").status_code == 200, "alive, only not ready"
