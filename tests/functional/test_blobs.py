"""Pulling, checking and deleting blobs (spec end-2, end-10; "Pulling blobs", "Deleting Blobs")."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest

from tests.functional.helpers import (
    MiB,
    assert_digest_header,
    assert_error,
    digest_of,
    push_blob,
    random_bytes,
    resolve,
    sha256,
    start_upload,
    unique_repo,
    with_query,
)
from tests.support.page_cache import evict_from_page_cache
from tests.support.server import RunningRegistry


def test_get_blob_returns_its_bytes_with_digest_and_length(http: httpx.Client, repo: str) -> None:
    blob = push_blob(http, repo, random_bytes(3000))
    response = http.get(f"/v2/{repo}/blobs/{blob.digest}")
    assert response.status_code == 200
    assert response.content == blob.data
    assert response.headers["docker-content-digest"] == blob.digest
    assert int(response.headers["content-length"]) == blob.size


def test_head_blob_returns_headers_without_body(http: httpx.Client, repo: str) -> None:
    blob = push_blob(http, repo, random_bytes(1234))
    response = http.head(f"/v2/{repo}/blobs/{blob.digest}")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["docker-content-digest"] == blob.digest
    assert int(response.headers["content-length"]) == blob.size


def test_empty_blob_round_trips(http: httpx.Client, repo: str) -> None:
    blob = push_blob(http, repo, b"")
    response = http.get(f"/v2/{repo}/blobs/{blob.digest}")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["docker-content-digest"] == sha256(b"")
    assert response.headers["content-length"] == "0"


@pytest.mark.parametrize(("first", "last"), [(0, 0), (0, 99), (10, 19), (4090, 4095)])
def test_byte_range_returns_partial_content(http: httpx.Client, repo: str, first: int, last: int) -> None:
    """`Range: bytes=a-b` answers 206 with that slice (spec "Resumable Pull"; RFC 9110 §14)."""
    blob = push_blob(http, repo, random_bytes(4096))
    response = http.get(f"/v2/{repo}/blobs/{blob.digest}", headers={"Range": f"bytes={first}-{last}"})
    assert response.status_code == 206
    assert response.content == blob.data[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/{blob.size}"
    assert int(response.headers["content-length"]) == last - first + 1


def test_open_ended_range_returns_the_rest_of_the_blob(http: httpx.Client, repo: str) -> None:
    blob = push_blob(http, repo, random_bytes(4096))
    response = http.get(f"/v2/{repo}/blobs/{blob.digest}", headers={"Range": "bytes=1000-"})
    assert response.status_code == 206
    assert response.content == blob.data[1000:]
    assert response.headers["content-range"] == f"bytes 1000-4095/{blob.size}"


def test_range_past_the_end_is_clamped_to_the_blob(http: httpx.Client, repo: str) -> None:
    """A last-byte position beyond the end means "to the end" (RFC 9110 §14.1.2)."""
    blob = push_blob(http, repo, random_bytes(100))
    response = http.get(f"/v2/{repo}/blobs/{blob.digest}", headers={"Range": "bytes=90-500"})
    assert response.status_code == 206
    assert response.content == blob.data[90:]
    assert response.headers["content-range"] == f"bytes 90-99/{blob.size}"


def test_suffix_range_returns_the_last_bytes(http: httpx.Client, repo: str) -> None:
    """`bytes=-N` asks for the last N bytes (RFC 9110 §14.1.1)."""
    blob = push_blob(http, repo, random_bytes(100))
    response = http.get(f"/v2/{repo}/blobs/{blob.digest}", headers={"Range": "bytes=-10"})
    assert response.status_code == 206
    assert response.content == blob.data[-10:]
    assert response.headers["content-range"] == f"bytes 90-99/{blob.size}"


def test_unsatisfiable_range_is_refused_with_416(http: httpx.Client, repo: str) -> None:
    """416 names the blob's length in `Content-Range: bytes */<size>` (RFC 9110 §15.5.17); a body is a spec error."""
    blob = push_blob(http, repo, random_bytes(100))
    response = http.get(f"/v2/{repo}/blobs/{blob.digest}", headers={"Range": "bytes=200-300"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{blob.size}"
    if response.content:
        assert_error(response, 416, None)


def test_range_in_an_unknown_unit_is_ignored(http: httpx.Client, repo: str) -> None:
    """RFC 9110 §14.2: a server MUST ignore a Range in a unit it does not understand; the whole blob comes back."""
    blob = push_blob(http, repo, random_bytes(100))
    response = http.get(f"/v2/{repo}/blobs/{blob.digest}", headers={"Range": "items=0-9"})
    assert response.status_code == 200
    assert response.content == blob.data


@pytest.mark.parametrize("header", ["bytes=abc", "bytes=5-2", "bytes=", "bytes=--1"])
def test_malformed_byte_range_is_ignored_or_refused_as_unsatisfiable(
    http: httpx.Client, repo: str, header: str
) -> None:
    """An invalid ranges-specifier MAY be ignored or rejected (RFC 9110 §14.2): 200 with all bytes, or 416."""
    blob = push_blob(http, repo, random_bytes(100))
    response = http.get(f"/v2/{repo}/blobs/{blob.digest}", headers={"Range": header})
    assert response.status_code in (200, 416), f"{response.status_code}: {response.text[:200]}"
    if response.status_code == 200:
        assert response.content == blob.data
    elif response.content:
        assert_error(response, 416, None)


PIECE = 64 * 1024  # the server reads and sends a blob in pieces of this size


def test_blob_of_many_pieces_round_trips_whole_and_across_piece_boundaries(http: httpx.Client, repo: str) -> None:
    blob = push_blob(http, repo, random_bytes(3 * PIECE + 123))
    assert http.get(f"/v2/{repo}/blobs/{blob.digest}").content == blob.data
    for first, last in [(PIECE - 1, PIECE), (100, 2 * PIECE + 99), (3 * PIECE, 3 * PIECE + 122)]:
        response = http.get(f"/v2/{repo}/blobs/{blob.digest}", headers={"Range": f"bytes={first}-{last}"})
        assert response.status_code == 206
        assert response.content == blob.data[first : last + 1]


def test_blob_no_longer_in_the_page_cache_is_read_from_disk(
    http: httpx.Client, repo: str, registry: RunningRegistry
) -> None:
    """A blob the kernel has evicted is read in a worker thread, not on the event loop, and arrives whole."""
    if registry.data_dir is None:
        pytest.skip("an external registry's files are not on this machine")
    blob = push_blob(http, repo, random_bytes(4 * PIECE + 5))
    os.sync()
    for path in registry.data_dir.rglob("*"):
        if path.is_file():
            evict_from_page_cache(path)
    response = http.get(f"/v2/{repo}/blobs/{blob.digest}")
    assert response.status_code == 200
    assert response.content == blob.data


def test_unknown_blob_is_blob_unknown(http: httpx.Client, repo: str) -> None:
    push_blob(http, repo)  # the repository exists; only the blob is unknown
    missing = sha256(random_bytes(32))
    assert_error(http.get(f"/v2/{repo}/blobs/{missing}"), 404, "BLOB_UNKNOWN")
    assert http.head(f"/v2/{repo}/blobs/{missing}").status_code == 404


def test_blob_in_unknown_repository_is_not_found(http: httpx.Client) -> None:
    missing = sha256(random_bytes(32))
    assert_error(http.get(f"/v2/{unique_repo()}/blobs/{missing}"), 404, {"BLOB_UNKNOWN", "NAME_UNKNOWN"})


def test_blob_of_another_repository_is_not_readable(http: httpx.Client, repo: str) -> None:
    """A digest is not a capability: a repository serves only blobs linked to it (DESIGN.md, "Blob store")."""
    blob = push_blob(http, repo)
    other = unique_repo()
    push_blob(http, other)
    assert_error(http.get(f"/v2/{other}/blobs/{blob.digest}"), 404, "BLOB_UNKNOWN")
    assert http.head(f"/v2/{other}/blobs/{blob.digest}").status_code == 404


def test_delete_blob_answers_202_then_blob_is_gone(http: httpx.Client, repo: str) -> None:
    blob = push_blob(http, repo)
    response = http.delete(f"/v2/{repo}/blobs/{blob.digest}")
    assert response.status_code == 202
    assert_error(http.get(f"/v2/{repo}/blobs/{blob.digest}"), 404, "BLOB_UNKNOWN")
    assert http.head(f"/v2/{repo}/blobs/{blob.digest}").status_code == 404


def test_delete_blob_in_one_repository_leaves_it_in_another(http: httpx.Client, repo: str) -> None:
    """Blobs are deduplicated across repositories, but links are per repository."""
    data = random_bytes(700)
    other = unique_repo()
    push_blob(http, repo, data)
    blob = push_blob(http, other, data)
    assert http.delete(f"/v2/{repo}/blobs/{blob.digest}").status_code == 202
    response = http.get(f"/v2/{other}/blobs/{blob.digest}")
    assert response.status_code == 200
    assert response.content == data


def test_delete_unknown_blob_is_blob_unknown(http: httpx.Client, repo: str) -> None:
    push_blob(http, repo)
    assert_error(http.delete(f"/v2/{repo}/blobs/{sha256(random_bytes(8))}"), 404, "BLOB_UNKNOWN")


def test_sha512_blob_can_be_read_checked_and_deleted(http: httpx.Client, repo: str) -> None:
    blob = push_blob(http, repo, random_bytes(2048), algorithm="sha512")
    assert blob.digest.startswith("sha512:")
    response = http.get(f"/v2/{repo}/blobs/{blob.digest}")
    assert response.status_code == 200
    assert response.content == blob.data
    assert_digest_header(response, blob.data)
    head = http.head(f"/v2/{repo}/blobs/{blob.digest}")
    assert head.status_code == 200
    assert_digest_header(head, blob.data)
    assert int(head.headers["content-length"]) == blob.size
    assert http.delete(f"/v2/{repo}/blobs/{blob.digest}").status_code == 202
    assert_error(http.get(f"/v2/{repo}/blobs/{blob.digest}"), 404, "BLOB_UNKNOWN")


def test_large_blob_round_trips_byte_exact(http: httpx.Client, repo: str) -> None:
    """A 64 MiB blob pushed in 8 MiB chunks reads back with the same digest and length."""
    size, chunk_size = 64 * MiB, 8 * MiB
    data = random_bytes(size)
    digest = digest_of(data)
    location = start_upload(http, repo)
    for start in range(0, size, chunk_size):
        chunk = data[start : start + chunk_size]
        response = http.patch(
            location,
            content=chunk,
            headers={"Content-Type": "application/octet-stream", "Content-Range": f"{start}-{start + len(chunk) - 1}"},
        )
        assert response.status_code == 202, response.text
        location = resolve(response)
    assert http.put(with_query(location, digest=digest)).status_code == 201
    hasher, length = hashlib.sha256(), 0
    with http.stream("GET", f"/v2/{repo}/blobs/{digest}") as response:
        assert response.status_code == 200
        assert int(response.headers["content-length"]) == size
        for piece in response.iter_bytes():
            hasher.update(piece)
            length += len(piece)
    assert length == size
    assert f"sha256:{hasher.hexdigest()}" == digest
    tail = http.get(f"/v2/{repo}/blobs/{digest}", headers={"Range": f"bytes={size - 10}-"})
    assert tail.status_code == 206
    assert tail.content == data[-10:]
