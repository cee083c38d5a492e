"""The BlobStore contract, run against every implementation."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from moorage.domain.digests import Digest
from moorage.storage.blobstore import BlobNotFound, BlobStore
from moorage.storage.filesystem import FilesystemBlobStore


@pytest.fixture(params=["filesystem"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    yield FilesystemBlobStore(tmp_path / "store")


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
