"""Chunked and streamed uploads, upload status, cancel and resume (spec end-5, end-6, "Pushing a blob in chunks")."""

from __future__ import annotations

import httpx
import pytest

from tests.functional.helpers import (
    assert_digest_header,
    assert_error,
    blob_exists,
    parse_range,
    patch_chunk,
    push_blob_chunked,
    random_bytes,
    resolve,
    sha256,
    start_upload,
    with_query,
)
from tests.support.server import RunningRegistry

UNKNOWN_UPLOAD = "00000000-0000-4000-8000-000000000000"


def test_each_chunk_answers_202_with_location_and_range(http: httpx.Client, repo: str) -> None:
    """A chunk answers 202 with `Location` and `Range: 0-<end>` (spec "Pushing a blob in chunks")."""
    data = random_bytes(3000)
    location = start_upload(http, repo)
    for start in (0, 1000, 2000):
        response = patch_chunk(http, location, data[start : start + 1000], start)
        assert response.status_code == 202, response.text
        assert parse_range(response.headers["range"]) == (0, start + 999)
        assert response.headers["location"]
        location = resolve(response)
    response = http.put(with_query(location, digest=sha256(data)))
    assert response.status_code == 201
    assert response.headers["docker-content-digest"] == sha256(data)
    assert http.get(resolve(response)).content == data


def test_final_chunk_may_come_with_the_closing_put(http: httpx.Client, repo: str) -> None:
    data = random_bytes(2500)
    location = start_upload(http, repo)
    response = patch_chunk(http, location, data[:2000], 0)
    assert response.status_code == 202
    final = data[2000:]
    response = http.put(
        with_query(resolve(response), digest=sha256(data)),
        content=final,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"2000-{len(data) - 1}",
            "Content-Length": str(len(final)),
        },
    )
    assert response.status_code == 201, response.text
    assert http.get(f"/v2/{repo}/blobs/{sha256(data)}").content == data


def test_final_chunk_in_the_closing_put_at_a_wrong_offset_is_refused(http: httpx.Client, repo: str) -> None:
    """The closing PUT's chunk follows the same ordering rule as a PATCH: out of order is 416."""
    data = random_bytes(1500)
    response = patch_chunk(http, start_upload(http, repo), data[:1000], 0)
    location = resolve(response)
    final = data[1000:]
    response = http.put(
        with_query(location, digest=sha256(data)),
        content=final,
        headers={"Content-Type": "application/octet-stream", "Content-Range": f"1200-{1200 + len(final) - 1}"},
    )
    assert response.status_code == 416
    assert not blob_exists(http, repo, sha256(data))


def test_chunked_upload_with_sha512_digest(http: httpx.Client, repo: str) -> None:
    blob = push_blob_chunked(http, repo, random_bytes(5000), chunk_size=2048, algorithm="sha512")
    response = http.get(f"/v2/{repo}/blobs/{blob.digest}")
    assert response.status_code == 200
    assert response.content == blob.data
    assert_digest_header(response, blob.data)


def test_streamed_patch_without_content_range_is_accepted(http: httpx.Client, repo: str) -> None:
    """A PATCH without Content-Range appends the streamed body (the "streamed" upload clients use)."""
    data = random_bytes(4000)
    location = start_upload(http, repo)

    def body():  # a generator is sent chunked, without Content-Length
        yield data[:1500]
        yield data[1500:]

    response = http.patch(location, content=body(), headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 202, response.text
    assert parse_range(response.headers["range"]) == (0, len(data) - 1)
    response = http.put(with_query(resolve(response), digest=sha256(data)))
    assert response.status_code == 201
    assert http.get(f"/v2/{repo}/blobs/{sha256(data)}").content == data


def test_two_streamed_patches_append(http: httpx.Client, repo: str) -> None:
    data = random_bytes(2000)
    location = start_upload(http, repo)
    first = http.patch(location, content=data[:700])
    assert first.status_code == 202
    second = http.patch(resolve(first), content=data[700:])
    assert second.status_code == 202
    assert parse_range(second.headers["range"]) == (0, 1999)
    assert http.put(with_query(resolve(second), digest=sha256(data))).status_code == 201
    assert http.get(f"/v2/{repo}/blobs/{sha256(data)}").content == data


def test_out_of_order_chunk_is_refused_with_current_range(http: httpx.Client, repo: str) -> None:
    """A chunk that does not start at the last end + 1 is refused with 416 (spec: "MUST respond with 416")."""
    data = random_bytes(3000)
    location = start_upload(http, repo)
    response = patch_chunk(http, location, data[:1000], 0)
    assert response.status_code == 202
    location = resolve(response)
    skipped = patch_chunk(http, location, data[2000:], 2000)
    assert skipped.status_code == 416
    assert parse_range(skipped.headers["range"]) == (0, 999)
    # the session survives the refusal and continues at the right offset
    response = patch_chunk(http, location, data[1000:], 1000)
    assert response.status_code == 202
    assert http.put(with_query(resolve(response), digest=sha256(data))).status_code == 201
    assert http.get(f"/v2/{repo}/blobs/{sha256(data)}").content == data


def test_first_chunk_not_starting_at_zero_is_refused(http: httpx.Client, repo: str) -> None:
    """Spec: The first chunk's range MUST begin with 0."""
    location = start_upload(http, repo)
    response = patch_chunk(http, location, random_bytes(100), 50)
    assert response.status_code == 416


def test_restarting_at_a_wrong_offset_is_refused(http: httpx.Client, repo: str) -> None:
    """Re-sending from 0 after bytes were received would duplicate them: 416, and nothing changes."""
    data = random_bytes(2000)
    location = start_upload(http, repo)
    response = patch_chunk(http, location, data[:1000], 0)
    location = resolve(response)
    again = patch_chunk(http, location, data[:1000], 0)
    assert again.status_code == 416
    assert parse_range(again.headers["range"]) == (0, 999)
    status = http.get(location)
    assert status.status_code == 204
    assert parse_range(status.headers["range"]) == (0, 999)


def test_upload_status_reports_the_received_range(http: httpx.Client, repo: str) -> None:
    """GET <location> answers 204 with `Range` and `Location` (spec "Resumable Push"; end-13 in spec 1.1)."""
    data = random_bytes(1500)
    location = start_upload(http, repo)
    response = patch_chunk(http, location, data[:1234], 0)
    status = http.get(resolve(response))
    assert status.status_code == 204
    assert status.content == b""
    assert parse_range(status.headers["range"]) == (0, 1233)
    assert status.headers["location"]
    assert status.headers.get("docker-upload-uuid")


def test_interrupted_upload_resumes_from_reported_offset(
    http: httpx.Client, registry: RunningRegistry, repo: str
) -> None:
    """A client that stopped mid-way asks where the upload stands and sends only the rest."""
    data = random_bytes(10_000)
    location = start_upload(http, repo)
    response = patch_chunk(http, location, data[:3000], 0)
    assert response.status_code == 202
    location = resolve(response)
    http.close()  # the first client goes away

    with httpx.Client(base_url=registry.url, timeout=60) as resumed:
        status = resumed.get(location)
        assert status.status_code == 204
        _, end = parse_range(status.headers["range"])
        offset = end + 1
        assert offset == 3000
        location = resolve(status)
        response = patch_chunk(resumed, location, data[offset:], offset)
        assert response.status_code == 202
        response = resumed.put(with_query(resolve(response), digest=sha256(data)))
        assert response.status_code == 201
        assert resumed.get(f"/v2/{repo}/blobs/{sha256(data)}").content == data


def test_cancelled_upload_is_gone(http: httpx.Client, repo: str) -> None:
    """DELETE <location> answers 204; the session is then unknown (spec "Canceling an upload", end-13)."""
    response = patch_chunk(http, start_upload(http, repo), random_bytes(100), 0)
    location = resolve(response)  # "SHOULD use the <location> provided in the response to the previous chunk"
    assert http.delete(location).status_code == 204
    assert_error(http.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(patch_chunk(http, location, random_bytes(10), 100), 404, "BLOB_UPLOAD_UNKNOWN")


def test_chunked_upload_with_wrong_digest_is_digest_invalid_and_not_visible(http: httpx.Client, repo: str) -> None:
    data = random_bytes(2000)
    location = start_upload(http, repo)
    response = patch_chunk(http, location, data, 0)
    wrong = sha256(data + b"!")
    assert_error(http.put(with_query(resolve(response), digest=wrong)), 400, "DIGEST_INVALID")
    assert not blob_exists(http, repo, wrong)
    assert not blob_exists(http, repo, sha256(data))


@pytest.mark.parametrize("content_range", ["abc", "10-5", "0-", "-5", "0-x"])
def test_invalid_content_range_is_refused(http: httpx.Client, repo: str, content_range: str) -> None:
    """Content-Range MUST match `^[0-9]+-[0-9]+$` with start <= end (spec "Pushing a blob in chunks")."""
    location = start_upload(http, repo)
    response = http.patch(location, content=b"0123456789", headers={"Content-Range": content_range})
    assert_error(response, {400, 416}, {"BLOB_UPLOAD_INVALID", "SIZE_INVALID"})


def test_content_range_not_matching_the_body_length_is_refused(http: httpx.Client, repo: str) -> None:
    location = start_upload(http, repo)
    response = http.patch(location, content=b"0123456789", headers={"Content-Range": "0-99"})
    assert_error(response, {400, 416}, {"BLOB_UPLOAD_INVALID", "SIZE_INVALID"})
    status = http.get(location)
    if status.status_code == 204:  # a session that survives the refusal took none of the bytes
        assert parse_range(status.headers["range"])[1] < 9


def test_patch_to_unknown_upload_is_blob_upload_unknown(http: httpx.Client, repo: str) -> None:
    start_upload(http, repo)
    response = patch_chunk(http, f"/v2/{repo}/blobs/uploads/{UNKNOWN_UPLOAD}", b"data", 0)
    assert_error(response, 404, "BLOB_UPLOAD_UNKNOWN")


def test_status_of_unknown_upload_is_blob_upload_unknown(http: httpx.Client, repo: str) -> None:
    start_upload(http, repo)
    assert_error(http.get(f"/v2/{repo}/blobs/uploads/{UNKNOWN_UPLOAD}"), 404, "BLOB_UPLOAD_UNKNOWN")


def test_cancel_of_unknown_upload_is_blob_upload_unknown(http: httpx.Client, repo: str) -> None:
    start_upload(http, repo)
    assert_error(http.delete(f"/v2/{repo}/blobs/uploads/{UNKNOWN_UPLOAD}"), 404, "BLOB_UPLOAD_UNKNOWN")


def test_many_small_chunks_assemble_in_order(http: httpx.Client, repo: str) -> None:
    blob = push_blob_chunked(http, repo, random_bytes(4097), chunk_size=256)
    assert http.get(f"/v2/{repo}/blobs/{blob.digest}").content == blob.data
