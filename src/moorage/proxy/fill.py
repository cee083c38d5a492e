"""Cache fills: copying an upstream manifest or blob into the local stores, through the registry's
own services, so cached content is verified, governed, audited and scanned like pushed content.

Manifests go through `ManifestService.put` (hooks: repository creation from templates, tag
immutability, history, audit, scan on push) with their references pending: the blobs and platform
manifests are fetched only when a client asks for them.

Blobs go through `UploadService` (staging, running hash, digest check, atomic commit): a fill
streams the upstream's bytes into an upload while handing them to the client that asked, and
holds back the last piece until the digest is verified and the blob committed. A bad or truncated
upstream transfer is never committed, and the client's response ends short (its connection is
aborted), so no client ever gets a wrong blob with a `200`.

One fill per repository and blob at a time: in a process, another request for the same missing blob
waits for the running fill and is then served from the cache; across processes and nodes, a fill
first takes the blob's lease in the metadata store (lease.py), so a second process waits for the
first's fill instead of fetching again (docs/pull-through-cache.md, "Concurrent pulls").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from moorage.domain.access import Actor
from moorage.domain.digests import Digest, is_digest
from moorage.domain.errors import ErrorCode, RegistryError
from moorage.governance.audit import AuditLog
from moorage.metadata import cache_rules as cache_queries
from moorage.metadata import repositories
from moorage.metadata.database import Database
from moorage.proxy.lease import FillLeases
from moorage.proxy.rules import CacheRule
from moorage.proxy.upstream import UpstreamClient
from moorage.registry.manifests import ManifestService
from moorage.registry.uploads import UploadService

log = logging.getLogger(__name__)

QUEUE_PIECES = 8
"""Pieces waiting for the first client: the upstream is read no faster than that client takes them."""
PIECE_SIZE = 1 << 20
CLIENT_STALL_SECONDS = 60.0
"""A first client that takes no piece for this long is cut off (its response aborted); the fill goes on."""


class FillFailed(Exception):
    """The upstream's bytes did not verify, or the transfer broke: nothing was cached."""


@dataclass
class BlobFill:
    """One blob being copied from the upstream; `done` is set once it is committed or has failed."""

    size: int | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    error: BaseException | None = None
    pieces: asyncio.Queue[bytes | BaseException | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_PIECES))
    listening: bool = True
    """Whether the client that started the fill still reads `pieces` (a gone client does not stop the fill)."""
    elsewhere: bool = False
    """Another process or node cached the blob while this one waited for its lease: serve it from the cache."""


Blocking = Callable[..., object]


class CacheFill:
    def __init__(
        self,
        database: Database,
        manifests: ManifestService,
        uploads: UploadService,
        audit: AuditLog,
        on_fill: Callable[[str], None] = lambda upstream: None,
        leases: FillLeases | None = None,
    ) -> None:
        self.database = database
        self.leases = leases or FillLeases(database)
        self.manifests = manifests
        self.uploads = uploads
        self.audit = audit
        self.on_fill = on_fill
        self._blob_fills: dict[tuple[str, str], BlobFill] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- manifests ------------------------------------------------------------------------------

    async def manifest(
        self, rule: CacheRule, client: UpstreamClient, name: str, reference: str, actor: Actor, known: str | None = None
    ) -> str:
        """Copy the upstream's manifest for `reference` (a tag is pointed at it); its digest.

        `known` is the digest a HEAD just resolved the tag to: the manifest is fetched by that digest,
        so what is stored is exactly what the tag named at that moment.
        """
        upstream_name = rule.upstream_name(name)
        fetched = await client.get_manifest(upstream_name, known or reference)
        expected = known or (reference if is_digest(reference) else fetched.digest)
        algorithm = Digest.parse(expected).algorithm if expected else "sha256"
        digest = Digest.of(fetched.payload, algorithm)
        if expected is not None and str(digest) != str(Digest.parse(expected)):
            raise RegistryError(
                ErrorCode.UNKNOWN,
                f"upstream {rule.upstream_url} sent a manifest whose digest is {digest}, not {expected}",
                status=502,
            )
        stored_as = reference if not is_digest(reference) else str(digest)
        await asyncio.to_thread(
            self.manifests.put, name, stored_as, fetched.payload, fetched.media_type, actor, references_pending=True
        )
        await asyncio.to_thread(self._after_manifest, rule, name, upstream_name, reference, str(digest), actor)
        self.on_fill(rule.upstream_url)
        return str(digest)

    def _after_manifest(
        self, rule: CacheRule, name: str, upstream_name: str, reference: str, digest: str, actor: Actor
    ) -> None:
        with self.database.write() as connection:
            repository_id = repositories.find_id(connection, name)
            if repository_id is None:
                return  # deleted meanwhile
            cache_queries.mark_cached(connection, repository_id, rule.prefix, upstream_name)
            if not is_digest(reference):
                cache_queries.record_tag_check(connection, repository_id, reference, digest)
            detail = {"upstream": rule.upstream_url, "upstream_repository": upstream_name, "reference": reference}
            self.audit.record("proxy.fill", actor, name, digest, detail=detail, connection=connection)

    def _mark_cached(self, rule: CacheRule, name: str) -> None:
        """The repository is the cache's (a transparent mirror tells it from a hosted one by this)."""
        with self.database.write() as connection:
            repository_id = repositories.find_id(connection, name)
            if repository_id is not None:
                cache_queries.mark_cached(connection, repository_id, rule.prefix, rule.upstream_name(name))

    def tag_checked(self, name: str, tag: str, digest: str) -> None:
        """Record that the upstream's tag still names `digest` (the cached one): fresh for another TTL."""
        with self.database.write() as connection:
            repository_id = repositories.find_id(connection, name)
            if repository_id is not None:
                cache_queries.record_tag_check(connection, repository_id, tag, digest)

    # -- blobs ----------------------------------------------------------------------------------

    def running(self, name: str, digest: Digest) -> BlobFill | None:
        return self._blob_fills.get((name, str(digest)))

    async def start_blob(
        self, rule: CacheRule, client: UpstreamClient, name: str, digest: Digest, actor: Actor, listening: bool = True
    ) -> BlobFill:
        """Start copying a blob; returns once the upstream answered (`size` set) or failed (`error`).

        `listening`: whether the caller reads the pieces as they come (`stream_to_client`); one that
        only waits for `done` (a range request, a scan) passes False, so no piece waits for it.
        """
        key = (name, str(digest))
        fill = BlobFill(listening=listening)
        self._blob_fills[key] = fill
        task = asyncio.create_task(self._copy_blob(fill, rule, client, name, digest, actor))
        self._tasks.add(task)

        def finished(done: asyncio.Task[None]) -> None:
            self._tasks.discard(done)
            if self._blob_fills.get(key) is fill:
                del self._blob_fills[key]

        task.add_done_callback(finished)
        await fill.started.wait()
        return fill

    async def _copy_blob(
        self, fill: BlobFill, rule: CacheRule, client: UpstreamClient, name: str, digest: Digest, actor: Actor
    ) -> None:
        """Take the blob's lease (waiting while another process fills it), then copy it."""
        try:
            owner = await self.leases.acquire(name, str(digest))
        except BaseException as error:  # noqa: BLE001 - the waiting clients must hear of it
            fill.error = error
            fill.started.set()
            fill.done.set()
            if isinstance(error, asyncio.CancelledError):
                raise
            log.warning("cache fill of %s in %s could not take its lease: %s", digest, name, error)
            return
        if owner is None:
            fill.elsewhere = True
            fill.started.set()
            fill.done.set()
            return
        try:
            async with self.leases.renewing(name, str(digest), owner):
                await self._copy_leased(fill, rule, client, name, digest, actor)
        finally:
            # Only once the lease is given back: a waiter that tries again (or ends its event loop,
            # as a scan does) must not find the lease of a fill that is over.
            fill.done.set()

    async def _copy_leased(
        self, fill: BlobFill, rule: CacheRule, client: UpstreamClient, name: str, digest: Digest, actor: Actor
    ) -> None:
        upload_id: str | None = None
        try:
            async with client.open_blob(rule.upstream_name(name), str(digest)) as response:
                declared = response.headers.get("content-length")
                fill.size = int(declared) if declared is not None and declared.isdigit() else None
                status = await asyncio.to_thread(self.uploads.start, name, actor)
                upload_id = status.upload_id
                await asyncio.to_thread(self._mark_cached, rule, name)
                fill.started.set()
                appended = await self.uploads.append(name, upload_id, self._tee(response.aiter_bytes(), fill))
                received = appended.size
            if fill.size is not None and received != fill.size:
                raise FillFailed(f"upstream sent {received} of {fill.size} bytes of {digest}")
            try:
                await asyncio.to_thread(self.uploads.finish, name, upload_id, digest)
            except RegistryError as error:
                upload_id = None  # a failed verification drops the upload itself
                raise FillFailed(
                    f"upstream {rule.upstream_url} sent bytes that are not {digest}: {error.message}"
                ) from None
            upload_id = None
            self.on_fill(rule.upstream_url)
            await hand_over(fill, None)
        except BaseException as error:  # noqa: BLE001 - every failure must reach the waiting clients
            fill.error = error
            if not isinstance(error, (asyncio.CancelledError, RegistryError)):
                log.warning("cache fill of %s in %s failed: %s", digest, name, error)
            if upload_id is not None:
                await asyncio.to_thread(self._cancel, name, upload_id)
            fill.started.set()
            await hand_over(fill, error if isinstance(error, Exception) else FillFailed(str(error)))
            if isinstance(error, asyncio.CancelledError):
                raise

    def _cancel(self, name: str, upload_id: str) -> None:
        with contextlib.suppress(RegistryError):
            self.uploads.cancel(name, upload_id)

    async def _tee(self, body: AsyncIterator[bytes], fill: BlobFill) -> AsyncIterator[bytes]:
        """The upstream's bytes, gathered into pieces of `PIECE_SIZE`, each told to the client then written.

        The transport reads up to 1 MiB at a time, but a read returns what the socket holds (often
        256 KiB); a larger piece costs the client's response, the queue and the writer one step
        where several would take several. Gathered by one `join` (one copy).
        """
        parts: list[bytes] = []
        gathered = 0
        async for data in body:
            parts.append(data)
            gathered += len(data)
            if gathered >= PIECE_SIZE:
                piece = parts[0] if len(parts) == 1 else b"".join(parts)
                parts.clear()
                gathered = 0
                await hand_over(fill, piece)
                yield piece
        if parts:
            piece = b"".join(parts)
            await hand_over(fill, piece)
            yield piece

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()


async def hand_over(fill: BlobFill, item: bytes | BaseException | None) -> None:
    """Hand a piece to the first client; one that stops reading is cut off, and the fill goes on."""
    if not fill.listening:
        return
    try:
        await asyncio.wait_for(fill.pieces.put(item), CLIENT_STALL_SECONDS)
    except TimeoutError:
        fill.listening = False
        while not fill.pieces.empty():
            fill.pieces.get_nowait()
        fill.pieces.put_nowait(FillFailed("the client stopped reading"))


async def stream_to_client(fill: BlobFill) -> AsyncIterator[bytes]:
    """The first client's body: every piece as it arrives, the last one only once the blob verified.

    A failed fill raises here, after fewer bytes than `Content-Length` promised: the server then
    aborts the connection, which every client reads as a failed download, never as a blob.
    """
    held: bytes | None = None
    try:
        while True:
            item = await fill.pieces.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise FillFailed(str(item))
            if held is not None:
                yield held
            held = item
        if held is not None:
            yield held
    finally:
        fill.listening = False
        while not fill.pieces.empty():  # unblock a fill waiting to hand over a piece
            fill.pieces.get_nowait()
