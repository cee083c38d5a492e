"""The filesystem store writes whole aligned blocks around the page cache and everything else
through it, and the bytes on disk are the bytes written either way."""

import mmap
import os
from pathlib import Path

import pytest

from moorage.storage.filesystem import DIRECT_ALIGNMENT, FilesystemBlobStore
from tests.support.page_cache import is_cached


def aligned_buffer(data: bytes) -> mmap.mmap:
    """Page-aligned memory holding `data`, as the upload pump hands it over."""
    buffer = mmap.mmap(-1, len(data))
    buffer[:] = data
    return buffer


@pytest.fixture
def store(tmp_path: Path) -> FilesystemBlobStore:
    store = FilesystemBlobStore(tmp_path / "store")
    if not direct_io_supported(tmp_path):
        message = "the test directory's filesystem has no O_DIRECT"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: the direct path must be tested)")
        pytest.skip(message)
    return store


def direct_io_supported(directory: Path) -> bool:
    probe = directory / "probe"
    probe.touch()
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_DIRECT))
    except OSError:
        return False
    return True


def staged(store: FilesystemBlobStore, upload_id: str) -> bytes:
    return b"".join(store.read_upload(upload_id))


def upload_in_one_write(store: FilesystemBlobStore, data: bytes) -> Path:
    """Stage `data` from page-aligned memory in one write; returns the staging file."""
    store.start_upload("u1")
    writer = store.append_to_upload("u1", 0)
    writer.write(aligned_buffer(data))
    writer.close()
    return store.root / "uploads" / "u1"


def test_aligned_blocks_from_aligned_memory_bypass_the_page_cache(store: FilesystemBlobStore) -> None:
    data = os.urandom(1 << 20)
    path = upload_in_one_write(store, data)
    assert not is_cached(path, 0, DIRECT_ALIGNMENT)
    assert staged(store, "u1") == data


def test_an_unaligned_tail_goes_through_the_page_cache(store: FilesystemBlobStore) -> None:
    data = os.urandom(3 * DIRECT_ALIGNMENT + 100)
    path = upload_in_one_write(store, data)
    assert not is_cached(path, 0, DIRECT_ALIGNMENT)
    assert is_cached(path, 3 * DIRECT_ALIGNMENT, 100)
    assert staged(store, "u1") == data


def test_unaligned_memory_is_written_through_the_page_cache(store: FilesystemBlobStore) -> None:
    data = os.urandom(1 << 20)  # a bytes object's data starts just after its header: not aligned
    store.start_upload("u1")
    writer = store.append_to_upload("u1", 0)
    writer.write(data)
    writer.write(aligned_buffer(data))  # O_DIRECT stays off for the rest of this writer
    writer.close()
    assert is_cached(store.root / "uploads" / "u1", 0, len(data) * 2)
    assert staged(store, "u1") == data + data


def test_an_append_at_an_unaligned_offset_keeps_every_byte(store: FilesystemBlobStore) -> None:
    head = os.urandom(DIRECT_ALIGNMENT + 7)
    tail = os.urandom(4 * DIRECT_ALIGNMENT)
    store.start_upload("u1")
    for offset, chunk in ((0, head), (len(head), tail)):
        writer = store.append_to_upload("u1", offset)
        writer.write(aligned_buffer(chunk))
        writer.close()
    assert staged(store, "u1") == head + tail


def test_rewriting_from_an_earlier_offset_replaces_direct_written_bytes(store: FilesystemBlobStore) -> None:
    first = os.urandom(8 * DIRECT_ALIGNMENT)
    second = os.urandom(2 * DIRECT_ALIGNMENT)
    store.start_upload("u1")
    writer = store.append_to_upload("u1", 0)
    writer.write(aligned_buffer(first))
    writer.close()
    writer = store.append_to_upload("u1", 4 * DIRECT_ALIGNMENT)
    writer.write(aligned_buffer(second))
    writer.close()
    assert staged(store, "u1") == first[: 4 * DIRECT_ALIGNMENT] + second
