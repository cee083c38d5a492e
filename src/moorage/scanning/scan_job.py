"""The scan job: one image digest's inventory, findings and SBOM, run by the job runner.

What it does, in order, with no transaction held while it works:
1. Find a repository that still holds the digest (the one that asked first). None: the image was
   deleted before its scan, and the job ends quietly (an unfinished scan row is dropped).
2. Read the manifest. An index is not scanned: it is recorded as the list of its image manifests,
   whose results it aggregates (scanning/results.py), and each child gets its own job. A manifest
   whose config is not an image config, or with a layer that is not a file system layer, is an
   artifact: UNSUPPORTED_IMAGE with the reason.
3. IN_PROGRESS; the layers of an image cached from an upstream that no client pulled yet are
   fetched through the cache fill (`fetch_layers`, the scanner's own pull); the inventory of the
   layers (read from the blob store through the registry's blob
   service, each layer once across images thanks to the layer cache), matched against the
   vulnerability database; inventory, findings and database version stored in one transaction
   (COMPLETE). A re-scan of a complete digest keeps the old result readable until then.
4. The CycloneDX SBOM pushed as a referrer of the image into every repository holding it.

A failure is retried by the runner with a back-off; after the last attempt the scan is FAILED with
the error as its reason. If the image goes while the job runs (a blob or the manifest vanishes),
the job ends quietly. The job is idempotent: a crash re-runs it from the start.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import sqlalchemy as sa

from moorage.domain import media_types as mt
from moorage.domain.access import Actor
from moorage.domain.digests import Digest
from moorage.domain.errors import RegistryError
from moorage.metadata import jobs, scans
from moorage.metadata.database import Database
from moorage.metadata.jobs import Job
from moorage.registry.blobs import BlobService
from moorage.registry.manifests import ManifestService
from moorage.scanning.model import Inventory, ScanStatus
from moorage.scanning.records import finding_document, inventory_document
from moorage.scanning.sbom_referrer import SCANNER, SbomPublisher
from moorage.scanning.seams import (
    IMAGE_CONFIGS,
    LAYER_PREFIXES,
    ImageNotReadable,
    ImageNotScannable,
    LayerBlob,
    Scanner,
)
from moorage.storage.blobstore import BlobNotFound

log = logging.getLogger("moorage.scanning")

KIND = "scan"
MAX_ATTEMPTS = 3


def dedup_key(digest: str) -> str:
    return f"{KIND}:{digest}"


def enqueue_scan(connection: sa.Connection, digest: str, repository: str) -> None:
    """Ask for a scan of `digest` on the caller's transaction (one pending job per digest)."""
    scans.request(connection, digest)
    jobs.enqueue(connection, KIND, {"digest": digest, "repository": repository}, dedup_key(digest), MAX_ATTEMPTS)


FetchLayers = Callable[[str, list[str], Actor], None]
"""(repository, layer digests, actor): make the layers present before they are read. A cached image's
layers no client pulled yet are fetched from its upstream (proxy/scan_layers.py); raises if one cannot be."""


def _present(repository: str, digests: list[str], actor: Actor) -> None:
    """Without a pull-through cache every layer of a stored image is in the blob store already."""


class ImageGone(Exception):
    """The image was deleted while it was being scanned."""


class ScanJob:
    """The job runner's handler of `scan` jobs."""

    kind = KIND

    def __init__(
        self,
        database: Database,
        manifests: ManifestService,
        blobs: BlobService,
        publisher: SbomPublisher,
        scanner: Scanner,
        fetch_layers: FetchLayers = _present,
    ) -> None:
        self.database = database
        self.manifests = manifests
        self.blobs = blobs
        self.publisher = publisher
        self.scanner = scanner
        self.fetch_layers = fetch_layers

    def run(self, job: Job) -> None:
        digest = str(job.payload["digest"])
        try:
            self._scan(digest, str(job.payload.get("repository") or ""))
        except ImageGone:
            log.info("scan of %s: the image was deleted, nothing to scan", digest)
            with self.database.write() as connection:
                scans.forget(connection, digest)

    def gave_up(self, job: Job, reason: str) -> None:
        digest = str(job.payload["digest"])
        with self.database.write() as connection:
            row = scans.get(connection, digest)
            if row is not None and row.status == ScanStatus.COMPLETE:
                log.error("re-scan of %s failed (the previous result stands): %s", digest, reason)
                return
            scans.finish(connection, digest, ScanStatus.FAILED, reason)

    def _holder(self, digest: str, preferred: str) -> str:
        holders = self._holders(digest)
        if not holders:
            raise ImageGone(digest)
        return preferred if preferred in holders else holders[0]

    def _scan(self, digest: str, preferred: str) -> None:
        repository = self._holder(digest, preferred)
        try:
            stored = self.manifests.get(repository, digest)
        except RegistryError:
            raise ImageGone(digest) from None
        document = json.loads(stored.payload)
        if stored.media_type in mt.INDEXES:
            self._record_index(digest, repository, document)
            return
        reason = _unsupported(stored.media_type, document)
        if reason is not None:
            self._finish_unsupported(digest, reason)
            return
        with self.database.write() as connection:
            scans.start(connection, digest)
        # A cached image's layers arrive when a client pulls them: the scanner pulls the missing ones.
        self.fetch_layers(repository, [str(layer["digest"]) for layer in document["layers"]], SCANNER)
        layers = [
            LayerBlob(layer["digest"], layer["mediaType"], self._opener(repository, layer["digest"]))
            for layer in document["layers"]
        ]
        try:
            inventory = self.scanner.inventory(layers)
        except ImageNotScannable as error:
            self._finish_unsupported(digest, str(error))
            return
        except ImageNotReadable as error:
            with self.database.write() as connection:
                scans.finish(connection, digest, ScanStatus.FAILED, str(error))
            return
        except (BlobNotFound, RegistryError, FileNotFoundError):
            self._holder(digest, repository)  # raises ImageGone when it was deleted meanwhile
            raise
        match = self.scanner.match(inventory)
        findings = sorted(match.findings, key=lambda f: (-f.severity.rank, f.vulnerability_id, f.package.name))
        counts: dict[str, int] = {}
        for finding in findings:
            counts[finding.severity.value] = counts.get(finding.severity.value, 0) + 1
        with self.database.write() as connection:
            scans.finish(
                connection,
                digest,
                ScanStatus.COMPLETE,
                None,
                match.database_version,
                inventory_document(inventory),
                [(f.severity.rank, f.vulnerability_id, finding_document(f)) for f in findings],
                counts,
            )
        self._publish_sboms(digest, stored.media_type, len(stored.payload), inventory, match.database_version)

    def _publish_sboms(self, digest: str, media_type: str, size: int, inventory: Inventory, version: str) -> None:
        """Push the SBOM into every repository holding the image (none left: it was deleted meanwhile)."""
        holders = self._holders(digest)
        if not holders:
            log.info("scan of %s: the image was deleted meanwhile, no SBOM pushed", digest)
        for repository in holders:
            document = self.scanner.sbom(inventory, repository, digest)
            try:
                sbom = self.publisher.publish(
                    repository, digest, media_type, size, document, self.scanner.sbom_media_type, version
                )
            except RegistryError as error:
                if repository not in self._holders(digest):
                    continue  # the image left this repository meanwhile
                raise RuntimeError(f"pushing the SBOM of {digest} into {repository} failed: {error.message}") from None
            log.info("scan of %s: SBOM %s pushed into %s (database %s)", digest, sbom, repository, version)
            if repository not in self._holders(digest):
                # The image went between the check and the push: take back the SBOM that refers to nothing.
                with contextlib.suppress(RegistryError):
                    self.manifests.delete(repository, sbom, SCANNER)

    def _holders(self, digest: str) -> list[str]:
        with self.database.read() as connection:
            return scans.holders_of(connection, digest)

    def _record_index(self, digest: str, repository: str, document: dict[str, Any]) -> None:
        children = [
            str(child["digest"])
            for child in document.get("manifests", [])
            if isinstance(child, dict) and child.get("mediaType") in mt.IMAGE_MANIFESTS
        ]
        with self.database.write() as connection:
            scans.request_index(connection, digest, children)
            for child in children:
                enqueue_scan(connection, child, repository)

    def _finish_unsupported(self, digest: str, reason: str) -> None:
        with self.database.write() as connection:
            scans.finish(connection, digest, ScanStatus.UNSUPPORTED_IMAGE, reason)

    def _opener(self, repository: str, digest: str) -> Callable[[], BinaryIO]:
        def open_layer() -> BinaryIO:
            info = self.blobs.stat(repository, Digest.parse(digest))
            if info.location.path is not None:
                return open(info.location.path, "rb")  # noqa: SIM115 - the caller closes it
            return io.BufferedReader(_ChunkReader(self.blobs.read(info, 0, info.size)), 1 << 20)

        return open_layer


def _unsupported(media_type: str, document: dict[str, object]) -> str | None:
    """Why the manifest is not a container image the inventory can read, or None."""
    if media_type not in mt.IMAGE_MANIFESTS:
        return f"manifest type {media_type} is not an image manifest"
    config = document.get("config")
    config_type = config.get("mediaType") if isinstance(config, dict) else None
    if config_type not in IMAGE_CONFIGS:
        return f"an artifact (config type {config_type}), not a container image"
    layers = document.get("layers")
    for layer in layers if isinstance(layers, list) else []:
        layer_type = str(layer.get("mediaType")) if isinstance(layer, dict) else ""
        if not layer_type.startswith(LAYER_PREFIXES):
            return f"layer type {layer_type} is not a file system layer"
        if isinstance(layer, dict) and layer.get("urls"):
            return f"layer {layer.get('digest')} is a foreign layer the registry does not hold"
    return None


class _ChunkReader(io.RawIOBase):
    """A blob store's chunk iterator as a readable stream (for stores that hand out no local file)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
