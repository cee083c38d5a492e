"""Blob uploads: start, append (chunked or streamed), status, cancel, finish, mount.

Bytes go to the blob store's staging area while a running SHA-256 is kept. One append or commit at
a time holds an upload, across processes and nodes (a lease in its metadata row, renewed while the
bytes flow), so nothing is written into an upload while it is verified and committed. When an append
ends, the hash state is saved with the upload (domain/running_hash.py): the next chunk, on any node,
continues it, and the commit needs no second pass over the bytes. Where no usable state exists (an
append cut short, a lease taken over, a library that cannot save states), the staged bytes are hashed
again at commit. A blob becomes visible only after its bytes are verified against the digest and
committed; its metadata row is written last.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio
import anyio.to_thread

from moorage.domain.access import ANONYMOUS, Actor
from moorage.domain.digests import Digest, Hasher, new_hasher
from moorage.domain.errors import ErrorCode, RegistryError
from moorage.domain.running_hash import BadHashState, RunningSha256
from moorage.metadata import blobs, collection, uploads
from moorage.metadata.common import now
from moorage.metadata.database import Database
from moorage.registry.hooks import Hooks, ensure_repository, reporting_refusals
from moorage.registry.renewal import renewed
from moorage.storage.blobstore import BlobNotFound, BlobStore, UploadWriter

BUFFER_SIZE = 4 << 20
"""Bytes gathered from the network before one hand-off to the writing thread."""
HASH_SLICE = 128 << 10
"""Hashed then written in turn by one thread, each slice is still in the CPU's cache when written."""
MOUNT_CANDIDATES = 100
LEASE = timedelta(seconds=120)
"""How long an append or commit holds an upload without renewing; after that another may take it."""
RENEW_SECONDS = 30.0
"""Repositories holding a blob that a mount without `from` looks at; past them the client uploads."""

MayRead = Callable[[str], bool]
"""Whether the caller may pull a repository (from its credential: the HTTP layer's guard decides)."""


@dataclass(frozen=True)
class UploadStatus:
    upload_id: str
    size: int


class UploadService:
    def __init__(self, database: Database, store: BlobStore, hooks: Hooks = ()) -> None:
        self.database = database
        self.store = store
        self.hooks = hooks
        self._appending: dict[str, asyncio.Lock] = {}
        """Appends in progress in this process: a status or the next chunk waits for them to land."""

    # -- sessions ---------------------------------------------------------------------------

    def start(self, repository: str, actor: Actor = ANONYMOUS) -> UploadStatus:
        upload_id = str(uuid.uuid4())
        self.store.start_upload(upload_id)
        try:
            with reporting_refusals(self.hooks), self.database.write() as connection:
                uploads.create(connection, upload_id, ensure_repository(connection, repository, actor, self.hooks))
        except RegistryError:
            self.store.cancel_upload(upload_id)
            raise
        return UploadStatus(upload_id, 0)

    def status(self, repository: str, upload_id: str) -> UploadStatus:
        self._find(repository, upload_id)
        return UploadStatus(upload_id, self._staged_size(upload_id))

    def cancel(self, repository: str, upload_id: str) -> None:
        """Drop the upload and its staged bytes; 409 while an append or commit holds it (on any node),
        which would otherwise go on writing parts of an upload that no longer exists."""
        self._find(repository, upload_id)
        writer, _ = self._claim(upload_id)
        try:
            with self.database.write() as connection:
                uploads.delete(connection, upload_id)
        except BaseException:
            self._release(upload_id, writer, False)  # the upload stays, free for a retry at once
            raise
        self._forget(upload_id)
        self.store.cancel_upload(upload_id)

    # -- bytes --------------------------------------------------------------------------------

    async def append(
        self,
        repository: str,
        upload_id: str,
        body: AsyncIterator[bytes],
        start: int | None = None,
        length: int | None = None,
    ) -> UploadStatus:
        """Append a request body to the upload.

        `start` is the first byte's offset when the client sent Content-Range: it must equal the
        bytes staged so far (else 416 with the current range). `length`, when known, must match
        the bytes actually received.
        """
        async with self._appending.setdefault(upload_id, asyncio.Lock()):
            return await self._append(repository, upload_id, body, start, length)

    async def settled(self, upload_id: str) -> None:
        """Wait until no append of this upload is in progress in this process."""
        lock = self._appending.get(upload_id)
        if lock is not None:
            async with lock:
                pass

    async def _append(
        self, repository: str, upload_id: str, body: AsyncIterator[bytes], start: int | None, length: int | None
    ) -> UploadStatus:
        await anyio.to_thread.run_sync(self._find, repository, upload_id)
        writer, checkpoint = await anyio.to_thread.run_sync(self._claim, upload_id)
        saved: uploads.HashCheckpoint | None | bool = False  # False: keep the stored checkpoint
        try:
            offset = await anyio.to_thread.run_sync(self._staged_size, upload_id)
            if start is not None and start != offset:
                raise RegistryError(
                    ErrorCode.RANGE_INVALID,
                    f"chunk starts at {start} but the upload holds {offset} bytes",
                    headers={"Range": content_range(offset)},
                )
            hasher = RunningSha256() if offset == 0 else self._resumed(checkpoint, offset)
            store_writer = await anyio.to_thread.run_sync(self.store.append_to_upload, upload_id, offset)
            try:
                async with renewed(lambda: self._renew(upload_id, writer), RENEW_SECONDS, f"upload {upload_id}"):
                    received = await _pump(body, store_writer, hasher)
            finally:
                await anyio.to_thread.run_sync(store_writer.close)
            if length is not None and received != length:
                # Drop the partial chunk so the client can resend it from the same offset.
                await anyio.to_thread.run_sync(self._truncate, upload_id, offset)
                raise RegistryError(ErrorCode.SIZE_INVALID, f"received {received} bytes, expected {length}", headers={})
            state = hasher.save() if isinstance(hasher, RunningSha256) else None
            saved = uploads.HashCheckpoint(offset + received, state) if state is not None else None
        finally:
            kept = await anyio.to_thread.run_sync(self._release, upload_id, writer, saved)
        if not kept:
            raise _taken_over(upload_id)
        return UploadStatus(upload_id, offset + received)

    def finish(self, repository: str, upload_id: str, digest: Digest) -> int:
        """Verify the staged bytes against `digest` and make them a blob of the repository."""
        record = self._find(repository, upload_id)
        writer, checkpoint = self._claim(upload_id)
        try:
            size = self._staged_size(upload_id)
            actual = self._digest_of_staged(upload_id, size, digest.algorithm, checkpoint)
            if actual != digest.hex:
                self._drop(upload_id)
                raise RegistryError(
                    ErrorCode.DIGEST_INVALID,
                    f"content digest {digest.algorithm}:{actual} does not match {digest}",
                    detail={"digest": str(digest)},
                )
            with self.database.write() as connection:
                # Restart the GC grace period and settle a GC tombstone of this digest first, so the
                # bytes committed below are never the ones a GC pass is deleting (docs/gc.md).
                collection.clear_for_commit(connection, str(digest), lambda _: self.store.delete(digest))
            self.store.commit_upload(upload_id, digest)
            with self.database.write() as connection:
                blobs.record(connection, str(digest), size)
                blobs.link(connection, record.repository_id, str(digest))
                uploads.delete(connection, upload_id)
        except BaseException:
            self._release(upload_id, writer, False)  # a no-op once the upload is gone
            raise
        self._forget(upload_id)
        return size

    def mount(
        self,
        repository: str,
        digest: Digest,
        source: str | None,
        actor: Actor = ANONYMOUS,
        may_read: MayRead | None = None,
    ) -> bool:
        """Link a blob into `repository` from `source` or, without one, from any repository holding it.

        With `may_read` (authentication on), the blob must be linked to a repository the caller may
        read: `source`, or without it any holder `may_read` accepts. Returns False when it cannot
        mount, so the caller falls back to a normal upload, indistinguishable from an unknown digest.
        """
        holder = source
        if may_read is not None:
            holder = self._readable_holder(repository, digest, source, may_read)
            if holder is None:
                return False  # before any write: a refused mount does not renew the blob either
        with reporting_refusals(self.hooks), self.database.write() as connection:
            # Touching first locks the blob row against a GC sweep and restarts its grace period.
            if collection.touch(connection, [str(digest)]) == 0:
                return False
            # Re-checked in the linking transaction, with the holder's link locked until it commits.
            if holder is not None and not blobs.lock_link(connection, holder, str(digest)):
                return False
            if self.store.stat(digest) is None:
                return False
            blobs.link(connection, ensure_repository(connection, repository, actor, self.hooks), str(digest))
        return True

    def _readable_holder(self, repository: str, digest: Digest, source: str | None, may_read: MayRead) -> str | None:
        """A repository the caller may read that links the blob, or None: the plan `mount` re-checks.

        Without `source`, the target comes first (a re-mount needs no other), then the oldest holders.
        """
        with self.database.read() as connection:
            if source is not None:
                names = [source] if blobs.size_in_repository(connection, source, str(digest)) is not None else []
            else:
                names = blobs.holders(connection, str(digest), repository, MOUNT_CANDIDATES)
        return next((name for name in names if may_read(name)), None)

    # -- helpers ------------------------------------------------------------------------------

    def _find(self, repository: str, upload_id: str) -> uploads.UploadRecord:
        record = None
        if _is_upload_id(upload_id):
            with self.database.read() as connection:
                record = uploads.find(connection, repository, upload_id)
        if record is None:
            raise RegistryError(
                ErrorCode.BLOB_UPLOAD_UNKNOWN, f"upload {upload_id!r} is unknown", {"upload": upload_id}
            )
        return record

    def _staged_size(self, upload_id: str) -> int:
        try:
            return self.store.upload_size(upload_id)
        except BlobNotFound:
            raise RegistryError(ErrorCode.BLOB_UPLOAD_UNKNOWN, f"upload {upload_id!r} has no data") from None

    def _claim(self, upload_id: str) -> tuple[str, uploads.HashCheckpoint | None]:
        """Hold the upload for this append or commit (its writer id, and the hash saved where the last
        append ended); BLOB_UPLOAD_INVALID (409) while another does."""
        writer = str(uuid.uuid4())
        with self.database.write() as connection:
            claimed = uploads.claim(connection, upload_id, writer, now() + LEASE)
            checkpoint = uploads.checkpoint(connection, upload_id) if claimed else None
        if not claimed:
            raise RegistryError(
                ErrorCode.BLOB_UPLOAD_INVALID,
                f"upload {upload_id} is being written or committed by another request; retry once it ends",
                {"upload": upload_id},
                status=409,
            )
        return writer, checkpoint

    def _renew(self, upload_id: str, writer: str) -> None:
        with self.database.write() as connection:
            uploads.renew(connection, upload_id, writer, now() + LEASE)

    def _release(self, upload_id: str, writer: str, saved: uploads.HashCheckpoint | None | bool) -> bool:
        with self.database.write() as connection:
            if isinstance(saved, bool):
                return uploads.release(connection, upload_id, writer)
            return uploads.release_saving(connection, upload_id, writer, saved)

    @staticmethod
    def _resumed(checkpoint: uploads.HashCheckpoint | None, offset: int) -> RunningSha256 | None:
        if checkpoint is None or checkpoint.offset != offset:
            return None
        try:
            return RunningSha256.resume(checkpoint.state)
        except BadHashState:
            return None

    def _digest_of_staged(
        self, upload_id: str, size: int, algorithm: str, checkpoint: uploads.HashCheckpoint | None
    ) -> str:
        if algorithm == "sha256":
            running = self._resumed(checkpoint, size)
            if running is not None:
                return running.hexdigest()
        hasher = new_hasher(algorithm)
        for chunk in self.store.read_upload(upload_id):
            hasher.update(chunk)
        return hasher.hexdigest()

    def _truncate(self, upload_id: str, offset: int) -> None:
        self.store.append_to_upload(upload_id, offset).close()

    def _drop(self, upload_id: str) -> None:
        with self.database.write() as connection:
            uploads.delete(connection, upload_id)
        self._forget(upload_id)
        self.store.cancel_upload(upload_id)

    def _forget(self, upload_id: str) -> None:
        self._appending.pop(upload_id, None)


async def _pump(body: AsyncIterator[bytes], writer: UploadWriter, hasher: Hasher | None) -> int:
    """Write and hash the body in worker threads while the event loop keeps receiving.

    Two buffers are filled in turn and reused for the whole body: while a thread hashes and writes
    one, the loop fills the other. One thread hashes and writes a buffer slice by slice, each slice
    still in the CPU's cache for the write. When a buffer fills before the previous one is done, the
    network has outrun that thread, and from then on each buffer is hashed in one thread while another
    writes it: the two take about as long, so side by side a buffer is busy about half as long. This
    is not the default because it costs more CPU per byte, which slowed skopeo pushes where client
    and server share the cores (docs/benchmarks.md, "Hashing beside writing"). Memory stays flat
    whatever the body's size, and reusing the same two buffers spares the page faults that a fresh
    buffer every few MiB costs (about a third of the throughput of a fresh server); they come from,
    and go back to, a pool shared by uploads.
    If the client goes away, what arrived is still written, so the upload can resume from there.
    """

    loop = asyncio.get_running_loop()

    def hash_and_write(data: memoryview) -> None:
        for start in range(0, len(data), HASH_SLICE):
            piece = data[start : start + HASH_SLICE]
            if hasher is not None:
                hasher.update(piece)
            writer.write(piece)

    def consume(data: memoryview, side_by_side: bool) -> asyncio.Future[Any]:
        """Hash and write `data` in one thread, slice by slice, or in two threads at once."""
        if hasher is None or not side_by_side:
            return loop.run_in_executor(None, hash_and_write, data)
        return asyncio.gather(
            loop.run_in_executor(None, hasher.update, data), loop.run_in_executor(None, writer.write, data)
        )

    buffers = [_BUFFERS.take()]  # the second one only once the body outgrows the first
    current, filled, received = 0, 0, 0
    side_by_side = False
    writing: asyncio.Future[Any] | None = None
    try:
        async for chunk in body:
            received += len(chunk)
            view = memoryview(chunk)
            while view:
                taken = min(BUFFER_SIZE - filled, len(view))
                buffers[current][filled : filled + taken] = view[:taken]
                filled += taken
                view = view[taken:]
                if filled == BUFFER_SIZE:
                    # Once the network has outrun one thread, every further buffer gets two.
                    side_by_side = side_by_side or (writing is not None and not writing.done())
                    if writing is not None:
                        await writing  # the other buffer is free again
                    writing = consume(memoryview(buffers[current]), side_by_side)
                    if len(buffers) == 1:
                        buffers.append(_BUFFERS.take())
                    current, filled = 1 - current, 0
    finally:
        if writing is not None:
            await asyncio.shield(writing)
        if filled:
            await asyncio.shield(consume(memoryview(buffers[current])[:filled], side_by_side=False))
        # Reached only once no thread uses them any more (a cancelled wait above skips this).
        for buffer in buffers:
            _BUFFERS.give_back(buffer)
    return received


class BufferPool:
    """Upload buffers kept from one upload to the next.

    A new `bytearray` of 4 MiB is zero-filled and faulted in page by page, which for a 16 KiB layer
    cost more than everything else the upload does: in a profile of a 200-layer push it was a third
    of the event loop's time. A returned buffer is kept, up to `keep` of them, for the next upload.
    Used from event loops: the server's, and the one a scan job runs the cache fills of a cached
    image's layers on (proxy/scan_layers.py), in another thread; `take` is one atomic `pop`.
    """

    def __init__(self, size: int, keep: int) -> None:
        self.size = size
        self.keep = keep
        self._free: list[bytearray] = []

    def take(self) -> bytearray:
        try:
            return self._free.pop()
        except IndexError:
            return bytearray(self.size)

    def give_back(self, buffer: bytearray) -> None:
        if len(self._free) < self.keep and len(buffer) == self.size:
            self._free.append(buffer)

    @property
    def idle(self) -> int:
        return len(self._free)


_BUFFERS = BufferPool(BUFFER_SIZE, keep=4)


def _taken_over(upload_id: str) -> RegistryError:
    return RegistryError(
        ErrorCode.BLOB_UPLOAD_INVALID,
        f"upload {upload_id} was taken over by another request while this chunk was written; check its status",
        {"upload": upload_id},
        status=409,
    )


def content_range(size: int) -> str:
    """The `Range` header of an upload holding `size` bytes (inclusive end, `0-0` when empty)."""
    return f"0-{max(size - 1, 0)}"


def _is_upload_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False
