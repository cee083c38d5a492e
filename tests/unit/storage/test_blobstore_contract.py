"""The BlobStore contract, run against every implementation: the local filesystem and S3 (SeaweedFS)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from moorage.domain.digests import Digest
from moorage.storage.blobstore import BlobNotFound, BlobStore
from moorage.storage.filesystem import FilesystemBlobStore
from moorage.storage.s3 import MIN_COPY_PART, S3BlobStore


@pytest.fixture(params=["filesystem", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "filesystem":
        yield FilesystemBlobStore(tmp_path / "store")
    else:
        server = request.getfixturevalue("s3_server")
        yield S3BlobStore(server.client(), server.new_bucket(), prefix="registry", part_size=MIN_COPY_PART)


def upload(store: BlobStore, upload_id: str, *chunks: bytes) -> None:
    store.start_upload(upload_id)
    offset = 0
    for chunk in chunks:
        writer = store.append_to_upload(upload_id, offset)
        writer.write(chunk)
        writer.close()
        offset += len(chunk)


def test_committed_upload_reads_back_whole_and_by_range(store: BlobStore) -> None:
    upload(store, "u1", b"hello ", b"world")
    digest = Digest.of(b"hello world")
    store.commit_upload("u1", digest)
    assert store.stat(digest) == 11
    assert b"".join(store.read(digest)) == b"hello world"
    assert b"".join(store.read(digest, 6, 3)) == b"wor"


def test_nothing_is_visible_before_commit(store: BlobStore) -> None:
    upload(store, "u1", b"abc")
    assert store.stat(Digest.of(b"abc")) is None
    with pytest.raises(BlobNotFound):
        store.locate(Digest.of(b"abc"))


def test_appending_at_an_earlier_offset_discards_what_followed(store: BlobStore) -> None:
    upload(store, "u1", b"abcdef")
    writer = store.append_to_upload("u1", 3)
    writer.write(b"XY")
    writer.close()
    assert store.upload_size("u1") == 5
    assert b"".join(store.read_upload("u1")) == b"abcXY"


def test_committing_an_already_stored_blob_is_idempotent(store: BlobStore) -> None:
    digest = Digest.of(b"same")
    upload(store, "u1", b"same")
    upload(store, "u2", b"same")
    store.commit_upload("u1", digest)
    store.commit_upload("u2", digest)
    assert b"".join(store.read(digest)) == b"same"
    assert store.list_uploads() == []


def test_cancel_drops_staged_bytes_and_unknown_ids_are_ignored(store: BlobStore) -> None:
    upload(store, "u1", b"abc")
    store.cancel_upload("u1")
    store.cancel_upload("never-existed")
    with pytest.raises(BlobNotFound):
        store.upload_size("u1")


def test_delete_removes_a_blob(store: BlobStore) -> None:
    digest = Digest.of(b"gone")
    upload(store, "u1", b"gone")
    store.commit_upload("u1", digest)
    store.delete(digest)
    assert store.stat(digest) is None
    store.delete(digest)


def test_upload_ids_cannot_escape_the_staging_area(store: BlobStore) -> None:
    for upload_id in ("../escape", ".hidden", ""):
        with pytest.raises(BlobNotFound):
            store.upload_size(upload_id)


def test_an_empty_upload_commits_an_empty_blob(store: BlobStore) -> None:
    store.start_upload("u1")
    assert store.upload_size("u1") == 0
    digest = Digest.of(b"")
    store.commit_upload("u1", digest)
    assert store.stat(digest) == 0
    assert b"".join(store.read(digest)) == b""


def test_an_upload_continues_through_another_store_object(store: BlobStore) -> None:
    """Any node can continue an upload: a second writer (or a second store on the same storage) picks it up."""
    upload(store, "u1", b"first ")
    writer = store.append_to_upload("u1", store.upload_size("u1"))
    writer.write(b"second")
    writer.close()
    assert b"".join(store.read_upload("u1")) == b"first second"


def test_reading_an_absent_blob_or_upload_is_blob_not_found(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        store.read(Digest.of(b"absent"))
    with pytest.raises(BlobNotFound):
        store.upload_size("never-started")
    with pytest.raises(BlobNotFound):
        store.append_to_upload("never-started", 0)


def test_a_range_past_the_end_reads_nothing(store: BlobStore) -> None:
    digest = Digest.of(b"short")
    upload(store, "u1", b"short")
    store.commit_upload("u1", digest)
    assert b"".join(store.read(digest, 5, 10)) == b""
    assert b"".join(store.read(digest, 2, None)) == b"ort"


def test_staged_uploads_are_listed_until_committed_or_cancelled(store: BlobStore) -> None:
    upload(store, "u1", b"a")
    upload(store, "u2", b"b")
    assert sorted(store.list_uploads()) == ["u1", "u2"]
    store.commit_upload("u1", Digest.of(b"a"))
    store.cancel_upload("u2")
    assert store.list_uploads() == []


def test_a_reachable_store_passes_its_readiness_check(store: BlobStore) -> None:
    store.check()
