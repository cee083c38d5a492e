"""The blob store on a local filesystem: the one module that knows the on-disk layout.

    <root>/blobs/<algorithm>/<first two hex>/<hex>     committed blobs, read-only once written
    <root>/uploads/<upload id>                         bytes of an upload in progress

Directories are created 0700, upload files 0600 and committed blobs 0400: blobs of private
repositories are nobody else's to read (docs/authentication.md, "Secrets at rest").

A commit is fsync(file) -> rename into place -> fsync(directory), so a blob path exists only
with all its bytes in it, even after a crash.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from collections.abc import Iterator
from pathlib import Path

from moorage.domain.digests import Digest
from moorage.storage import writeback
from moorage.storage.blobstore import BlobLocation, BlobNotFound

WRITE_SIZE = 128 << 10
"""Bytes per write(). On the reference VM one write() of 4 MiB costs the kernel about twice as much
per byte to copy into the page cache as writes of 256 KiB or less (docs/benchmarks.md, "Writing
uploads in slices")."""
WRITEBACK_SIZE = 4 << 20
"""Bytes written between two requests to start writing them to disk (see `moorage.storage.writeback`)."""
PAGE = mmap.PAGESIZE
"""Writeback is asked for whole pages only (see `FileUploadWriter`)."""


class FileUploadWriter:
    """Appends to an upload file through one file descriptor, in slices of `WRITE_SIZE`.

    Every `WRITEBACK_SIZE` bytes it asks the kernel to start writing the whole pages written since
    the last request, so that the `fsync` at commit has little left to do. A partly filled last page
    is left alone: the next write may still change it.
    """

    def __init__(
        self, path: Path, offset: int, start_writeback: writeback.StartWriteback | None = writeback.start_writeback
    ) -> None:
        try:
            self._fd = os.open(path, os.O_WRONLY)
        except FileNotFoundError:
            raise BlobNotFound(path.name) from None
        os.ftruncate(self._fd, offset)
        os.lseek(self._fd, offset, os.SEEK_SET)
        self._offset = offset
        self._written_back_to = offset - offset % PAGE
        self._start_writeback = start_writeback

    def write(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view[:WRITE_SIZE])
            view = view[written:]
            self._offset += written
        start_writeback = self._start_writeback
        if start_writeback is not None and self._offset - self._written_back_to >= WRITEBACK_SIZE:
            self._write_back_whole_pages(start_writeback)

    def _write_back_whole_pages(self, start_writeback: writeback.StartWriteback) -> None:
        end = self._offset - self._offset % PAGE
        try:
            start_writeback(self._fd, self._written_back_to, end - self._written_back_to)
        except OSError:
            self._start_writeback = None  # not on this file system; the fsync at commit does it all
            return
        self._written_back_to = end

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class FilesystemBlobStore:
    """Blobs as files under a root directory (see the module docstring for the layout)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs = root / "blobs"
        self._uploads = root / "uploads"
        self._uploads.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._blobs.mkdir(mode=0o700, parents=True, exist_ok=True)

    def blob_path(self, digest: Digest) -> Path:
        return self._blobs / digest.algorithm / digest.hex[:2] / digest.hex

    def _upload_path(self, upload_id: str) -> Path:
        if not upload_id or "/" in upload_id or upload_id.startswith("."):
            raise BlobNotFound(upload_id)
        return self._uploads / upload_id

    def start_upload(self, upload_id: str) -> None:
        self._upload_path(upload_id).touch(mode=0o600, exist_ok=False)

    def upload_size(self, upload_id: str) -> int:
        try:
            return self._upload_path(upload_id).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(upload_id) from None

    def append_to_upload(self, upload_id: str, offset: int) -> FileUploadWriter:
        return FileUploadWriter(self._upload_path(upload_id), offset)

    def read_upload(self, upload_id: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        return _read_file(self._upload_path(upload_id), 0, None, chunk_size)

    def commit_upload(self, upload_id: str, digest: Digest) -> None:
        source = self._upload_path(upload_id)
        target = self.blob_path(digest)
        if target.exists():
            source.unlink(missing_ok=True)
            return
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(source, os.O_RDONLY)
        except FileNotFoundError:
            raise BlobNotFound(upload_id) from None
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(source, 0o400)  # read-only, and private like everything in the data directory
        os.replace(source, target)
        _fsync_directory(target.parent)

    def cancel_upload(self, upload_id: str) -> None:
        with contextlib.suppress(BlobNotFound):
            self._upload_path(upload_id).unlink(missing_ok=True)

    def stat(self, digest: Digest) -> int | None:
        try:
            return self.blob_path(digest).stat().st_size
        except FileNotFoundError:
            return None

    def locate(self, digest: Digest) -> BlobLocation:
        path = self.blob_path(digest)
        if not path.exists():
            raise BlobNotFound(str(digest))
        return BlobLocation(path=path)

    def read(self, digest: Digest, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        return _read_file(self.blob_path(digest), offset, length, 1 << 20)

    def delete(self, digest: Digest) -> None:
        self.blob_path(digest).unlink(missing_ok=True)

    def check(self) -> None:
        for directory in (self._blobs, self._uploads):
            if not os.access(directory, os.W_OK | os.X_OK):
                raise OSError(f"{directory} is not writable")

    def list_uploads(self) -> list[str]:
        return [path.name for path in self._uploads.iterdir()]


def _read_file(path: Path, offset: int, length: int | None, chunk_size: int) -> Iterator[bytes]:
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the generator
    except FileNotFoundError:
        raise BlobNotFound(path.name) from None

    def chunks() -> Iterator[bytes]:
        with handle:
            handle.seek(offset)
            remaining = length
            while remaining is None or remaining > 0:
                size = chunk_size if remaining is None else min(chunk_size, remaining)
                data = handle.read(size)
                if not data:
                    return
                if remaining is not None:
                    remaining -= len(data)
                yield data

    return chunks()


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
