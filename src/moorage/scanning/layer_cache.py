"""The inventory's layer cache in the metadata store: a layer shared by many images is read once.

Summaries are stored as their JSON form with their schema version; one of another version (written
by an older or newer moorage) is not returned, so the layer is read again and the entry replaced.
A summary describes the bytes of a digest, so it is shared across repositories like the blob.
"""

from __future__ import annotations

from moorage.metadata import scans
from moorage.metadata.database import Database
from moorage.scanning.inventory import LayerSummary, SummaryFormatError


class MetadataLayerCache:
    """`scanning.inventory.LayerCache` over the `layer_summaries` table."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def get(self, digest: str) -> LayerSummary | None:
        with self.database.read() as connection:
            text = scans.layer_summary(connection, digest, LayerSummary.SCHEMA_VERSION)
        if text is None:
            return None
        try:
            return LayerSummary.from_json(text)
        except SummaryFormatError:
            return None

    def put(self, digest: str, summary: LayerSummary) -> None:
        with self.database.write() as connection:
            scans.save_layer_summary(connection, digest, LayerSummary.SCHEMA_VERSION, summary.to_json())
