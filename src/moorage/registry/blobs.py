"""Reading and deleting blobs of a repository."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from moorage.domain.access import ANONYMOUS, Actor
from moorage.domain.digests import Digest
from moorage.domain.errors import ErrorCode, RegistryError
from moorage.metadata import blobs, collection, repositories
from moorage.metadata.database import Database
from moorage.registry.hooks import BlobDeleted, Hooks
from moorage.storage.blobstore import BlobLocation, BlobNotFound, BlobStore


@dataclass(frozen=True)
class BlobInfo:
    digest: Digest
    size: int
    location: BlobLocation


MAX_REMEMBERED_RENEWALS = 100_000


class BlobService:
    """Blob reads are allowed only for blobs the metadata store links to the repository."""

    def __init__(
        self, database: Database, store: BlobStore, hooks: Hooks = (), grace_period: timedelta = timedelta(days=1)
    ) -> None:
        self.database = database
        self.store = store
        self.hooks = hooks
        self._renewal_lasts = grace_period.total_seconds() / 2
        self._renewed_until: dict[str, float] = {}
        """Blobs whose GC grace period this process renewed, and until when that protects them."""

    def is_protected(self, digest: Digest) -> bool:
        """Whether this process renewed the blob's grace period recently enough to skip renewing it."""
        until = self._renewed_until.get(str(digest))
        return until is not None and until > time.monotonic()

    def renew(self, repository: str, digest: Digest) -> int:
        """Restart the blob's GC grace period before a HEAD says it exists; its size, or BLOB_UNKNOWN.

        A client that HEADs a blob and finds it skips the upload and will reference it in a manifest
        soon: GC must not take it in between (docs/gc.md). The touch waits for a sweep holding the
        blob's row, and finds nothing if the sweep removed it, so the answer is then 404 and the client
        uploads. A renewal protects the blob for half the grace period, so repeated HEADs stay reads.
        """
        with self.database.write() as connection:
            renewed = collection.touch(connection, [str(digest)]) > 0
            size = blobs.size_in_repository(connection, repository, str(digest)) if renewed else None
        if size is None:
            raise blob_unknown(digest)
        if len(self._renewed_until) >= MAX_REMEMBERED_RENEWALS:
            self._renewed_until.clear()
        self._renewed_until[str(digest)] = time.monotonic() + self._renewal_lasts
        return size

    def size(self, repository: str, digest: Digest) -> int:
        """The size of a blob the repository holds, or BLOB_UNKNOWN (metadata only: for HEAD)."""
        with self.database.read() as connection:
            size = blobs.size_in_repository(connection, repository, str(digest))
        if size is None:
            raise blob_unknown(digest)
        return size

    def stat(self, repository: str, digest: Digest) -> BlobInfo:
        """Size and location of a blob the repository holds, or BLOB_UNKNOWN."""
        size = self.size(repository, digest)
        try:
            location = self.store.locate(digest)
        except BlobNotFound:
            raise blob_unknown(digest) from None
        return BlobInfo(digest, size, location)

    def read(self, info: BlobInfo, start: int, end: int) -> Iterator[bytes]:
        """Stream bytes [start, end) of a blob found with `stat`."""
        return self.store.read(info.digest, start, end - start)

    def delete(self, repository: str, digest: Digest, actor: Actor = ANONYMOUS) -> None:
        """Unlink the blob from the repository; its bytes go when nothing references them (GC)."""
        with self.database.write() as connection:
            repository_id = repositories.find_id(connection, repository)
            if repository_id is None or not blobs.unlink(connection, repository_id, str(digest)):
                raise blob_unknown(digest)
            event = BlobDeleted(repository, repository_id, str(digest), actor)
            for hook in self.hooks:
                hook.blob_deleted(connection, event)


def blob_unknown(digest: Digest) -> RegistryError:
    """BLOB_UNKNOWN for a digest the repository does not hold (or whose bytes are gone)."""
    return RegistryError(
        ErrorCode.BLOB_UNKNOWN, f"blob {digest} is unknown to this repository", {"digest": str(digest)}
    )
