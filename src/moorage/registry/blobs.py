"""Reading and deleting blobs of a repository."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from moorage.domain.access import ANONYMOUS, Actor
from moorage.domain.digests import Digest
from moorage.domain.errors import ErrorCode, RegistryError
from moorage.metadata import blobs, repositories
from moorage.metadata.database import Database
from moorage.registry.hooks import BlobDeleted, Hooks
from moorage.storage.blobstore import BlobLocation, BlobNotFound, BlobStore


@dataclass(frozen=True)
class BlobInfo:
    digest: Digest
    size: int
    location: BlobLocation


class BlobService:
    """Blob reads are allowed only for blobs the metadata store links to the repository."""

    def __init__(self, database: Database, store: BlobStore, hooks: Hooks = ()) -> None:
        self.database = database
        self.store = store
        self.hooks = hooks

    def size(self, repository: str, digest: Digest) -> int:
        """The size of a blob the repository holds, or BLOB_UNKNOWN (metadata only: for HEAD)."""
        with self.database.read() as connection:
            size = blobs.size_in_repository(connection, repository, str(digest))
        if size is None:
            raise _unknown(digest)
        return size

    def stat(self, repository: str, digest: Digest) -> BlobInfo:
        """Size and location of a blob the repository holds, or BLOB_UNKNOWN."""
        size = self.size(repository, digest)
        try:
            location = self.store.locate(digest)
        except BlobNotFound:
            raise _unknown(digest) from None
        return BlobInfo(digest, size, location)

    def read(self, info: BlobInfo, start: int, end: int) -> Iterator[bytes]:
        """Stream bytes [start, end) of a blob found with `stat`."""
        return self.store.read(info.digest, start, end - start)

    def delete(self, repository: str, digest: Digest, actor: Actor = ANONYMOUS) -> None:
        """Unlink the blob from the repository; its bytes go when nothing references them (GC)."""
        with self.database.write() as connection:
            repository_id = repositories.find_id(connection, repository)
            if repository_id is None or not blobs.unlink(connection, repository_id, str(digest)):
                raise _unknown(digest)
            event = BlobDeleted(repository, repository_id, str(digest), actor)
            for hook in self.hooks:
                hook.blob_deleted(connection, event)


def _unknown(digest: Digest) -> RegistryError:
    return RegistryError(
        ErrorCode.BLOB_UNKNOWN, f"blob {digest} is unknown to this repository", {"digest": str(digest)}
    )
