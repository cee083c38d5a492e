"""Monolithic blob uploads: POST then PUT, and the single POST (spec end-4a, end-4b, end-6)."""

from __future__ import annotations

import httpx
import pytest

from tests.functional.helpers import (
    assert_digest_header,
    assert_error,
    blob_exists,
    digest_of,
    push_blob,
    random_bytes,
    resolve,
    sha256,
    sha512,
    start_upload,
    unique_repo,
    with_query,
)

OCTET = {"Content-Type": "application/octet-stream"}


def test_starting_an_upload_answers_202_with_a_location_and_upload_uuid(http: httpx.Client, repo: str) -> None:
    """POST /v2/<name>/blobs/uploads/ opens a session at a `Location` naming a unique id (spec "POST then PUT")."""
    first = http.post(f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
    second = http.post(f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
    assert first.status_code == 202
    assert first.headers["location"]
    assert first.headers["docker-upload-uuid"]
    assert first.headers["docker-upload-uuid"] != second.headers["docker-upload-uuid"]
    assert resolve(first) != resolve(second)
    if "range" in first.headers:  # optional at the start; when sent it reports nothing received yet
        assert first.headers["range"] in ("0-0", "bytes=0-0")


def test_post_then_put_creates_the_blob(http: httpx.Client, repo: str) -> None:
    data = random_bytes(5000)
    location = start_upload(http, repo)
    response = http.put(with_query(location, digest=sha256(data)), content=data, headers=OCTET)
    assert response.status_code == 201
    assert response.headers["docker-content-digest"] == sha256(data)
    pulled = http.get(resolve(response))  # the Location is a pullable blob URL
    assert pulled.status_code == 200
    assert pulled.content == data


def test_single_post_with_digest_creates_the_blob(http: httpx.Client, repo: str) -> None:
    """POST ?digest= with the body is a whole upload in one request (spec "Single POST", end-4b)."""
    data = random_bytes(3000)
    response = http.post(f"/v2/{repo}/blobs/uploads/", params={"digest": sha256(data)}, content=data, headers=OCTET)
    assert response.status_code == 201, response.text
    assert response.headers["docker-content-digest"] == sha256(data)
    pulled = http.get(resolve(response))
    assert pulled.status_code == 200
    assert pulled.content == data


def test_single_post_with_sha512_creates_the_blob(http: httpx.Client, repo: str) -> None:
    data = random_bytes(3000)
    response = http.post(f"/v2/{repo}/blobs/uploads/", params={"digest": sha512(data)}, content=data, headers=OCTET)
    assert response.status_code == 201, response.text
    assert http.get(f"/v2/{repo}/blobs/{sha512(data)}").content == data


def test_single_post_with_wrong_digest_is_digest_invalid_and_stores_nothing(http: httpx.Client, repo: str) -> None:
    data = random_bytes(1000)
    claimed = sha256(random_bytes(1000))
    response = http.post(f"/v2/{repo}/blobs/uploads/", params={"digest": claimed}, content=data, headers=OCTET)
    assert_error(response, 400, "DIGEST_INVALID")
    assert not blob_exists(http, repo, claimed)
    assert not blob_exists(http, repo, sha256(data))


def test_put_with_sha512_digest_creates_the_blob(http: httpx.Client, repo: str) -> None:
    data = random_bytes(2000)
    location = start_upload(http, repo)
    response = http.put(with_query(location, digest=sha512(data)), content=data, headers=OCTET)
    assert response.status_code == 201
    assert_digest_header(response, data)
    assert http.get(f"/v2/{repo}/blobs/{sha512(data)}").content == data


def test_put_with_wrong_digest_is_digest_invalid_and_blob_is_not_visible(http: httpx.Client, repo: str) -> None:
    data = random_bytes(1000)
    claimed = sha256(random_bytes(1000))
    location = start_upload(http, repo)
    assert_error(http.put(with_query(location, digest=claimed), content=data, headers=OCTET), 400, "DIGEST_INVALID")
    assert not blob_exists(http, repo, claimed)
    assert not blob_exists(http, repo, sha256(data))


def test_put_with_digest_of_other_algorithm_content_is_digest_invalid(http: httpx.Client, repo: str) -> None:
    """A sha512 digest whose hex is the right length but of other bytes is caught as well."""
    location = start_upload(http, repo)
    response = http.put(with_query(location, digest=sha512(b"other")), content=b"content", headers=OCTET)
    assert_error(response, 400, "DIGEST_INVALID")


def test_put_without_digest_is_refused(http: httpx.Client, repo: str) -> None:
    """The closing PUT MUST carry the digest of the whole blob (spec "Pushing a blob in chunks")."""
    location = start_upload(http, repo)
    response = http.put(location, content=b"no digest given", headers=OCTET)
    assert_error(response, 400, {"DIGEST_INVALID", "BLOB_UPLOAD_INVALID"})


@pytest.mark.parametrize(
    "digest",
    [
        "md5:" + "a" * 32,
        "sha256:" + "a" * 63,
        "sha256:" + "A" * 64,
        "sha256:" + "g" * 64,
        "sha512:" + "a" * 64,
        "sha256",
        "",
    ],
    ids=["unknown-algorithm", "short-hex", "uppercase-hex", "non-hex", "sha512-short", "no-hex", "empty"],
)
def test_put_with_malformed_digest_is_digest_invalid(http: httpx.Client, repo: str, digest: str) -> None:
    location = start_upload(http, repo)
    response = http.put(with_query(location, digest=digest), content=b"some bytes", headers=OCTET)
    assert_error(response, 400, {"DIGEST_INVALID"} if digest else {"DIGEST_INVALID", "BLOB_UPLOAD_INVALID"})


@pytest.mark.parametrize("digest", ["sha256:" + "A" * 64, "md5:" + "a" * 32, "sha256:zz"])
def test_single_post_with_malformed_digest_is_digest_invalid(http: httpx.Client, repo: str, digest: str) -> None:
    response = http.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=b"x", headers=OCTET)
    assert_error(response, 400, "DIGEST_INVALID")


def test_put_to_unknown_upload_is_blob_upload_unknown(http: httpx.Client, repo: str) -> None:
    start_upload(http, repo)
    data = b"orphan"
    response = http.put(
        f"/v2/{repo}/blobs/uploads/00000000-0000-4000-8000-000000000000",
        params={"digest": sha256(data)},
        content=data,
        headers=OCTET,
    )
    assert_error(response, 404, "BLOB_UPLOAD_UNKNOWN")


def test_finished_upload_cannot_be_reused(http: httpx.Client, repo: str) -> None:
    data = random_bytes(100)
    location = start_upload(http, repo)
    assert http.put(with_query(location, digest=sha256(data)), content=data, headers=OCTET).status_code == 201
    again = http.put(with_query(location, digest=sha256(data)), content=data, headers=OCTET)
    assert_error(again, 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(http.get(location), 404, "BLOB_UPLOAD_UNKNOWN")


def test_failed_digest_check_ends_or_keeps_the_session_but_never_commits(http: httpx.Client, repo: str) -> None:
    """After a DIGEST_INVALID the same bytes with the right digest still work through a new session."""
    data = random_bytes(300)
    location = start_upload(http, repo)
    http.put(with_query(location, digest=sha256(b"wrong")), content=data, headers=OCTET)
    blob = push_blob(http, repo, data)
    assert http.get(f"/v2/{repo}/blobs/{blob.digest}").content == data


def test_upload_session_belongs_to_its_repository(http: httpx.Client, repo: str) -> None:
    """An upload opened in one repository cannot be finished through another repository's URL."""
    location = start_upload(http, repo)
    upload_id = httpx.URL(location).path.rstrip("/").rsplit("/", 1)[1]
    other = unique_repo()
    start_upload(http, other)
    data = b"hijack"
    response = http.put(f"/v2/{other}/blobs/uploads/{upload_id}", params={"digest": sha256(data)}, content=data)
    assert_error(response, 404, "BLOB_UPLOAD_UNKNOWN")
    assert not blob_exists(http, other, sha256(data))


def test_pushing_an_existing_blob_again_succeeds(http: httpx.Client, repo: str) -> None:
    data = random_bytes(400)
    push_blob(http, repo, data)
    push_blob(http, repo, data)
    response = http.post(f"/v2/{repo}/blobs/uploads/", params={"digest": sha256(data)}, content=data, headers=OCTET)
    assert response.status_code in (201, 202)  # 202 only from registries without the single POST
    assert http.get(f"/v2/{repo}/blobs/{sha256(data)}").content == data


def test_same_content_pushed_to_two_repositories_is_readable_from_both(http: httpx.Client, repo: str) -> None:
    data = random_bytes(900)
    other = unique_repo()
    push_blob(http, repo, data)
    push_blob(http, other, data)
    assert http.get(f"/v2/{repo}/blobs/{digest_of(data)}").content == data
    assert http.get(f"/v2/{other}/blobs/{digest_of(data)}").content == data
