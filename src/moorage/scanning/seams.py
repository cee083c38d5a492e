"""What the scan job needs from the inventory, the vulnerability database and the SBOM writer.

`Scanner` is the seam between the job (reading manifests and blobs, storing results, pushing the
SBOM) and the analysis (scanning/inventory, scanning/vulndb, scanning/sbom). The composition root
passes the real one (`scanning/scanner.py`); tests of the queue and plumbing may pass their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from moorage.domain import media_types as mt
from moorage.scanning.model import Finding, Inventory

IMAGE_CONFIGS = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
"""Config media types of container images; any other config makes a manifest an artifact."""

LAYER_PREFIXES = ("application/vnd.oci.image.layer.", "application/vnd.docker.image.rootfs.")
"""File system layers (tar, tar+gzip, tar+zstd, and their non-distributable variants)."""

IMAGE_MANIFESTS = mt.IMAGE_MANIFESTS


class ImageNotScannable(Exception):
    """The image holds nothing the inventory can read (its status becomes UNSUPPORTED_IMAGE with this reason)."""


class ImageNotReadable(Exception):
    """A layer is corrupt or passes a bound (size, file count): the scan is FAILED with this reason, not retried."""


@dataclass(frozen=True)
class LayerBlob:
    """One file system layer of the image, in order, and how to read its (compressed) bytes."""

    digest: str
    media_type: str
    open: Callable[[], BinaryIO]


@dataclass(frozen=True)
class Match:
    findings: Sequence[Finding]
    database_version: str


class Scanner(Protocol):
    """Inventory, matching and the SBOM document (every method may take seconds: called off the request path).

    - `inventory` reads the layers (through the layer cache, so a layer is read once across images)
      and returns what the final file system holds; raises ImageNotScannable (not an image it can
      read) or ImageNotReadable (a corrupt layer, or one past the reading bounds).
    - `match` matches the inventory against the vulnerability database.
    - `sbom` writes the inventory as a document of media type `sbom_media_type` (CycloneDX JSON).
    """

    sbom_media_type: str

    def inventory(self, layers: Sequence[LayerBlob]) -> Inventory: ...

    def match(self, inventory: Inventory) -> Match: ...

    def sbom(self, inventory: Inventory, image_name: str, image_digest: str) -> bytes: ...
