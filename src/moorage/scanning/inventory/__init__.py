"""The inventory of an image: which distribution it runs and which packages it holds.

    inventory = inventory_image([Layer(digest, media_type, opener), ...], cache)

Each layer is read once, as a stream (`layers.summarise_layer`), into a `LayerSummary` of the files
that matter; summaries are cached by layer digest, so a base layer shared by many images is read
once. The inventory itself is a pure function of the summaries (`resolution.resolve_inventory`,
whose docstring states the rules). Nothing here touches HTTP or the metadata store: the scan job
passes the layers in and stores what comes out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from moorage.scanning.inventory.layers import (
    InventoryError,
    Layer,
    LayerUnreadable,
    Limits,
    UnsupportedImage,
    check_media_type,
    summarise_layer,
)
from moorage.scanning.inventory.resolution import resolve_inventory
from moorage.scanning.inventory.summary import LayerSummary, SummaryFormatError
from moorage.scanning.model import Inventory


class LayerCache(Protocol):
    """Where layer summaries are kept between scans, keyed by layer digest.

    `get` returns None for a digest never stored; a stored summary of another `SCHEMA_VERSION` must
    not be returned as if it were current (store `to_json()` and let `from_json` refuse it, or
    return None). `put` may replace an existing entry; it is called only after a layer was read
    completely, so a cache never holds a partial summary.
    """

    def get(self, digest: str) -> LayerSummary | None: ...

    def put(self, digest: str, summary: LayerSummary) -> None: ...


def inventory_image(
    layers: Sequence[Layer], cache: LayerCache | None = None, *, limits: Limits | None = None
) -> Inventory:
    """The inventory of the image made of `layers` (manifest order, lowest first).

    Raises `UnsupportedImage` when a layer is not a file system tar, `LayerUnreadable` when one is
    corrupt or passes a bound; both are `InventoryError`s whose message is fit for a scan's status.
    Media types are checked for every layer before any is read, so an artifact costs no reading.
    """
    for layer in layers:
        check_media_type(layer)
    summaries: list[tuple[str, LayerSummary]] = []
    for layer in layers:
        summary = cache.get(layer.digest) if cache is not None else None
        if summary is None:
            summary = summarise_layer(layer, limits)
            if cache is not None:
                cache.put(layer.digest, summary)
        summaries.append((layer.digest, summary))
    return resolve_inventory(summaries)


__all__ = [
    "InventoryError",
    "Layer",
    "LayerCache",
    "LayerSummary",
    "LayerUnreadable",
    "Limits",
    "SummaryFormatError",
    "UnsupportedImage",
    "inventory_image",
    "resolve_inventory",
    "summarise_layer",
]
