"""What only the S3 blob store does: parts, server-side assembly, presigned redirects (against SeaweedFS)."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest
from botocore.exceptions import ClientError

from moorage.domain.digests import Digest
from moorage.storage.s3 import MIN_COPY_PART, S3BlobStore
from tests.support.object_store import ObjectStoreServer


@pytest.fixture
def store(s3_server: ObjectStoreServer) -> S3BlobStore:
    return S3BlobStore(s3_server.client(), s3_server.new_bucket(), part_size=MIN_COPY_PART, redirect_seconds=60)


def sha256(data: bytes) -> Digest:
    return Digest.parse("sha256:" + hashlib.sha256(data).hexdigest())


def keys(store: S3BlobStore) -> list[str]:
    return [item["Key"] for item in store._list(store.prefix)]


def test_large_parts_are_assembled_server_side_into_one_blob(store: S3BlobStore) -> None:
    data = os.urandom(2 * MIN_COPY_PART + 1234)
    store.start_upload("big")
    writer = store.append_to_upload("big", 0)
    writer.write(data)
    writer.close()
    assert len([key for key in keys(store) if "/part-" in key]) == 3
    store.commit_upload("big", sha256(data))
    assert b"".join(store.read(sha256(data))) == data
    assert keys(store) == [store.blob_key(sha256(data))]


def test_small_chunks_are_resent_in_parts_large_enough_for_s3(store: S3BlobStore) -> None:
    chunks = [os.urandom(1 << 20) for _ in range(7)]  # seven 1 MiB chunks: too small to copy as parts
    store.start_upload("chunked")
    offset = 0
    for chunk in chunks:
        writer = store.append_to_upload("chunked", offset)
        writer.write(chunk)
        writer.close()
        offset += len(chunk)
    data = b"".join(chunks)
    store.commit_upload("chunked", sha256(data))
    assert b"".join(store.read(sha256(data))) == data
    assert b"".join(store.read(sha256(data), MIN_COPY_PART - 3, 6)) == data[MIN_COPY_PART - 3 : MIN_COPY_PART + 3]


def test_appending_inside_a_part_keeps_only_the_bytes_before_the_offset(store: S3BlobStore) -> None:
    store.start_upload("u")
    writer = store.append_to_upload("u", 0)
    writer.write(b"0123456789")
    writer.close()
    writer = store.append_to_upload("u", 10)
    writer.write(b"abcdef")
    writer.close()
    writer = store.append_to_upload("u", 4)
    writer.write(b"XYZ")
    writer.close()
    assert store.upload_size("u") == 7
    assert b"".join(store.read_upload("u")) == b"0123XYZ"


def test_locate_answers_a_presigned_url_that_works_and_expires_nowhere_else(
    store: S3BlobStore, s3_server: ObjectStoreServer
) -> None:
    data = b"presigned bytes"
    store.start_upload("u")
    writer = store.append_to_upload("u", 0)
    writer.write(data)
    writer.close()
    store.commit_upload("u", sha256(data))
    url = store.locate(sha256(data)).url
    assert url is not None and url.startswith(s3_server.endpoint_url)
    assert httpx.get(url).content == data
    unsigned = url.split("?", 1)[0]
    assert httpx.get(unsigned).status_code == 403, "the bucket must not be readable without a signature"
    tampered = url.replace(store.blob_key(sha256(data)), store.blob_key(sha256(b"other")))
    assert httpx.get(tampered).status_code == 403
    assert store.locate(sha256(data)).url == url, "a URL is reused while most of its lifetime remains"
    store.delete(sha256(data))
    assert httpx.get(url).status_code == 404


def test_without_redirects_locate_names_no_place_and_the_http_layer_streams(s3_server: ObjectStoreServer) -> None:
    store = S3BlobStore(s3_server.client(), s3_server.new_bucket())
    store.start_upload("u")
    store.commit_upload("u", sha256(b""))
    location = store.locate(sha256(b""))
    assert location.url is None and location.path is None


def test_a_part_size_below_the_s3_minimum_is_refused(s3_server: ObjectStoreServer) -> None:
    with pytest.raises(ValueError):
        S3BlobStore(s3_server.client(), "bucket", part_size=1 << 20)


def test_a_missing_bucket_fails_the_readiness_check(s3_server: ObjectStoreServer) -> None:
    with pytest.raises(ClientError):
        S3BlobStore(s3_server.client(), "no-such-bucket-here").check()
