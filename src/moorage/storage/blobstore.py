"""The blob store contract: content-addressed bytes and the staging area of uploads.

Every implementation (local filesystem now, S3-compatible object storage next) passes the same
tests in tests/unit/storage. Callers never build paths or keys themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from moorage.domain.digests import Digest


class BlobNotFound(Exception):
    """The store holds no bytes under that digest, or no upload under that id."""


@dataclass(frozen=True)
class BlobLocation:
    """Where the HTTP layer serves a blob's bytes from without asking the store for each piece.

    Exactly one is set: a local file the HTTP layer reads itself, or a URL to redirect the client to.
    """

    path: Path | None = None
    url: str | None = None


class UploadWriter(Protocol):
    """Appends bytes to one upload's staging area; writes are durable after `close`."""

    def write(self, data: bytes | bytearray | memoryview) -> None: ...

    def close(self) -> None: ...


class BlobStore(Protocol):
    """Content-addressed storage of blobs and staged uploads.

    Contract:
    - `commit_upload` makes the staged bytes visible under the digest atomically: a reader sees all
      of them or nothing, even after a crash. It is idempotent: committing bytes whose digest is
      already stored discards the staged copy and succeeds.
    - The store does not verify digests; the caller hashes and commits only verified bytes.
    - Upload ids and digests passed in were validated by the caller (UUIDs and `Digest`s).
    """

    def start_upload(self, upload_id: str) -> None:
        """Create an empty staging area for a new upload."""

    def upload_size(self, upload_id: str) -> int:
        """Bytes staged so far; raise BlobNotFound for an unknown upload."""

    def append_to_upload(self, upload_id: str, offset: int) -> UploadWriter:
        """Open the upload to write from `offset`, discarding anything staged after it."""

    def read_upload(self, upload_id: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Stream the staged bytes from the start (to hash them where no running hash exists)."""

    def commit_upload(self, upload_id: str, digest: Digest) -> None:
        """Move the staged bytes under `digest` atomically and durably, then drop the upload."""

    def cancel_upload(self, upload_id: str) -> None:
        """Drop the upload's staged bytes; unknown ids are ignored."""

    def stat(self, digest: Digest) -> int | None:
        """The size of a stored blob, or None if it is not stored."""

    def locate(self, digest: Digest) -> BlobLocation:
        """Where to serve the blob from; raise BlobNotFound if it is not stored.

        A store that redirects (a URL) may skip the existence check: the URL then answers 404.
        """

    def read(self, digest: Digest, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Stream a stored blob's bytes, or a range of them; raise BlobNotFound if absent."""

    def delete(self, digest: Digest) -> None:
        """Remove a stored blob; absent blobs are ignored."""

    def check(self) -> None:
        """Raise if the store cannot be reached or written to (the readiness probe asks)."""

    def list_uploads(self) -> list[str]:
        """Ids of every staged upload (for purging abandoned ones)."""
