"""What every /v2/ handler receives: the services, and a way to run blocking calls off the loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import anyio.to_thread

from moorage.registry.blobs import BlobService
from moorage.registry.listings import ListingService
from moorage.registry.manifests import ManifestService
from moorage.registry.uploads import UploadService

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class RegistryServices:
    blobs: BlobService
    uploads: UploadService
    manifests: ManifestService
    listings: ListingService


async def blocking(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a service call that touches the database or disk in a worker thread."""
    return await anyio.to_thread.run_sync(lambda: function(*args, **kwargs))
