"""The real `Scanner`: the inventory (scanning/inventory), the vulnerability database (scanning/vulndb)
and the CycloneDX SBOM (scanning/sbom), with layer summaries cached in the metadata store."""

from __future__ import annotations

from collections.abc import Sequence

from moorage.metadata.database import Database
from moorage.scanning.model import Inventory
from moorage.scanning.seams import LayerBlob, Match

SBOM_MEDIA_TYPE = "application/vnd.cyclonedx+json"


class OsvScanner:
    sbom_media_type = SBOM_MEDIA_TYPE

    def __init__(self, database: Database) -> None:
        self.database = database

    def inventory(self, layers: Sequence[LayerBlob]) -> Inventory:
        raise NotImplementedError("the inventory (scanning/inventory) is not merged yet")

    def match(self, inventory: Inventory) -> Match:
        raise NotImplementedError("the vulnerability database (scanning/vulndb) is not merged yet")

    def sbom(self, inventory: Inventory, image_name: str, image_digest: str) -> bytes:
        raise NotImplementedError("the SBOM writer (scanning/sbom) is not merged yet")
