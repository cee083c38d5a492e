"""The real `Scanner`: the inventory (scanning/inventory), the vulnerability database (scanning/vulndb)
and the CycloneDX SBOM (scanning/sbom), with layer summaries cached in the metadata store."""

from __future__ import annotations

from collections.abc import Sequence

from moorage.metadata.database import Database
from moorage.scanning.inventory import Layer, LayerUnreadable, UnsupportedImage, inventory_image
from moorage.scanning.layer_cache import MetadataLayerCache
from moorage.scanning.model import Inventory
from moorage.scanning.sbom import SBOM_MEDIA_TYPE, cyclonedx_sbom
from moorage.scanning.seams import ImageNotReadable, ImageNotScannable, LayerBlob, Match
from moorage.scanning.vulndb import VulnerabilityDatabase


class OsvScanner:
    sbom_media_type = SBOM_MEDIA_TYPE

    def __init__(self, database: Database, vulnerabilities: VulnerabilityDatabase) -> None:
        self.cache = MetadataLayerCache(database)
        self.vulnerabilities = vulnerabilities

    def inventory(self, layers: Sequence[LayerBlob]) -> Inventory:
        try:
            return inventory_image([Layer(layer.digest, layer.media_type, layer.open) for layer in layers], self.cache)
        except UnsupportedImage as error:
            raise ImageNotScannable(str(error)) from None
        except LayerUnreadable as error:
            raise ImageNotReadable(str(error)) from None

    def match(self, inventory: Inventory) -> Match:
        result = self.vulnerabilities.match(inventory)
        return Match(result.findings, result.database_version)

    def sbom(self, inventory: Inventory, image_name: str, image_digest: str) -> bytes:
        return cyclonedx_sbom(inventory, image_name, image_digest)
