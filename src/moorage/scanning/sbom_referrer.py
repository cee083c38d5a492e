"""Pushing an image's SBOM as an OCI artifact whose `subject` is the image, through the registry's own services.

The SBOM is an image manifest with the empty config (`application/vnd.oci.empty.v1+json`),
`artifactType` the SBOM's media type and one layer, the document; it is pushed by digest (untagged,
so tag immutability and tag naming rules do not apply) by the system actor `scanner`, so the
referrers API, `oras discover` and the audit log show it like any other push. A re-scan replaces
it: the new SBOM is pushed, then the scanner's earlier SBOMs of the same image are deleted (ours
carry the annotation `SCANNER_ANNOTATION`; SBOMs someone else pushed are left alone). Lifecycle
policies treat a referrer as part of its subject, so the SBOM lives exactly as long as the image.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from moorage.domain import media_types as mt
from moorage.domain.access import Actor
from moorage.domain.digests import Digest
from moorage.domain.errors import RegistryError
from moorage.registry.blobs import BlobService
from moorage.registry.manifests import ManifestService
from moorage.registry.uploads import UploadService

SCANNER = Actor("system", "scanner")
"""Who pushes SBOMs (and deletes the ones a re-scan replaces), in the audit log and tag history."""

SCANNER_ANNOTATION = "dev.moorage.scan.generator"
DATABASE_ANNOTATION = "dev.moorage.scan.database-version"
EMPTY_CONFIG = b"{}"


class SbomPublisher:
    def __init__(self, blobs: BlobService, uploads: UploadService, manifests: ManifestService) -> None:
        self.blobs = blobs
        self.uploads = uploads
        self.manifests = manifests

    def publish(
        self,
        repository: str,
        subject_digest: str,
        subject_media_type: str,
        subject_size: int,
        document: bytes,
        media_type: str,
        database_version: str,
    ) -> str:
        """Push the SBOM into `repository` as a referrer of the image, drop the scanner's older ones; its digest."""
        config = self._ensure_blob(repository, EMPTY_CONFIG)
        layer = self._ensure_blob(repository, document)
        manifest = {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "artifactType": media_type,
            "config": {"mediaType": mt.OCI_EMPTY, "digest": str(config), "size": len(EMPTY_CONFIG)},
            "layers": [
                {
                    "mediaType": media_type,
                    "digest": str(layer),
                    "size": len(document),
                    "annotations": {"org.opencontainers.image.title": "sbom.cdx.json"},
                }
            ],
            "subject": {"mediaType": subject_media_type, "digest": subject_digest, "size": subject_size},
            "annotations": {
                "org.opencontainers.image.created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                SCANNER_ANNOTATION: "moorage",
                DATABASE_ANNOTATION: database_version,
            },
        }
        payload = json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode()
        digest = str(Digest.of(payload))
        self.manifests.put(repository, digest, payload, mt.OCI_MANIFEST, SCANNER)
        self._drop_older(repository, subject_digest, media_type, keep=digest)
        return digest

    def _drop_older(self, repository: str, subject: str, media_type: str, keep: str) -> None:
        listing = json.loads(self.manifests.referrers(repository, Digest.parse(subject), media_type))
        for descriptor in listing.get("manifests", []):
            ours = (descriptor.get("annotations") or {}).get(SCANNER_ANNOTATION) == "moorage"
            if ours and descriptor["digest"] != keep:
                # Deleted meanwhile (another node's re-scan, a client) is what we wanted.
                with contextlib.suppress(RegistryError):
                    self.manifests.delete(repository, descriptor["digest"], SCANNER)

    def _ensure_blob(self, repository: str, data: bytes) -> Digest:
        """The blob's digest, uploaded into the repository unless the repository already links it."""
        digest = Digest.of(data)
        try:
            self.blobs.size(repository, digest)
            return digest
        except RegistryError:
            pass
        upload = self.uploads.start(repository, SCANNER)
        asyncio.run(self.uploads.append(repository, upload.upload_id, _once(data), 0, len(data)))
        self.uploads.finish(repository, upload.upload_id, digest)
        return digest


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
