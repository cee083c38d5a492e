"""Cross-repository blob mounts (spec "Mounting a blob from another repository", end-11)."""

from __future__ import annotations

import httpx

from tests.functional.helpers import (
    blob_exists,
    push_blob,
    random_bytes,
    resolve,
    sha256,
    unique_repo,
    with_query,
)


def mount(client: httpx.Client, to: str, digest: str, source: str | None) -> httpx.Response:
    params = {"mount": digest} if source is None else {"mount": digest, "from": source}
    return client.post(f"/v2/{to}/blobs/uploads/", params=params, headers={"Content-Length": "0"})


def test_mount_from_a_repository_holding_the_blob_answers_201(http: httpx.Client, repo: str) -> None:
    blob = push_blob(http, repo, random_bytes(2000))
    target = unique_repo()
    response = mount(http, target, blob.digest, repo)
    assert response.status_code == 201, response.text
    assert response.headers["docker-content-digest"] == blob.digest
    pulled = http.get(resolve(response))  # Location is the mounted blob's URL
    assert pulled.status_code == 200
    assert pulled.content == blob.data
    assert http.get(f"/v2/{target}/blobs/{blob.digest}").content == blob.data


def test_mount_of_sha512_blob(http: httpx.Client, repo: str) -> None:
    blob = push_blob(http, repo, random_bytes(300), algorithm="sha512")
    target = unique_repo()
    assert mount(http, target, blob.digest, repo).status_code == 201
    assert http.get(f"/v2/{target}/blobs/{blob.digest}").content == blob.data


def test_mount_without_from_of_a_known_blob_answers_201(http: httpx.Client, repo: str) -> None:
    """Without `from` a registry MAY mount a blob it already has (spec 1.1, "automatic content discovery")."""
    blob = push_blob(http, repo, random_bytes(500))
    target = unique_repo()
    response = mount(http, target, blob.digest, None)
    assert response.status_code == 201, response.text
    assert http.get(f"/v2/{target}/blobs/{blob.digest}").content == blob.data


def test_mount_from_a_repository_without_the_blob_starts_an_upload(http: httpx.Client, repo: str) -> None:
    """A mount the registry cannot do falls back to an upload session: 202 (spec end-11)."""
    blob = push_blob(http, repo, random_bytes(500))
    lacking = unique_repo()
    push_blob(http, lacking)
    target = unique_repo()
    response = mount(http, target, blob.digest, lacking)
    assert response.status_code == 202, response.text
    assert not blob_exists(http, target, blob.digest)
    # the session is usable: finish it as a monolithic upload
    finished = http.put(with_query(resolve(response), digest=blob.digest), content=blob.data)
    assert finished.status_code == 201
    assert http.get(f"/v2/{target}/blobs/{blob.digest}").content == blob.data


def test_mount_of_unknown_blob_starts_an_upload(http: httpx.Client, repo: str) -> None:
    push_blob(http, repo)
    target = unique_repo()
    response = mount(http, target, sha256(random_bytes(16)), repo)
    assert response.status_code == 202
    assert response.headers["location"]


def test_mount_from_unknown_repository_starts_an_upload(http: httpx.Client) -> None:
    response = mount(http, unique_repo(), sha256(random_bytes(16)), unique_repo())
    assert response.status_code == 202


def test_mount_does_not_take_the_blob_from_its_source(http: httpx.Client, repo: str) -> None:
    blob = push_blob(http, repo)
    target = unique_repo()
    assert mount(http, target, blob.digest, repo).status_code == 201
    assert http.delete(f"/v2/{target}/blobs/{blob.digest}").status_code == 202
    assert not blob_exists(http, target, blob.digest)
    assert http.get(f"/v2/{repo}/blobs/{blob.digest}").content == blob.data


def test_mount_into_a_repository_that_already_has_the_blob_answers_201(http: httpx.Client, repo: str) -> None:
    data = random_bytes(100)
    target = unique_repo()
    blob = push_blob(http, repo, data)
    push_blob(http, target, data)
    assert mount(http, target, blob.digest, repo).status_code == 201
