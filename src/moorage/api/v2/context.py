"""What every /v2/ handler receives: the services, and a way to run blocking calls off the loop."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ParamSpec, Protocol, TypeVar

import anyio.to_thread
from starlette.requests import Request

from moorage.api.v2.redirects import RedirectPolicy
from moorage.domain.access import ANONYMOUS, Actor
from moorage.registry.blobs import BlobService
from moorage.registry.listings import ListingService
from moorage.registry.manifests import ManifestService
from moorage.registry.uploads import MayRead, UploadService

if TYPE_CHECKING:
    from moorage.governance.pulls import PullRecorder

P = ParamSpec("P")
T = TypeVar("T")


class ManifestReadGate(Protocol):
    """A check on a manifest about to be served by GET (the scan gate, `api/scan_gate.py`).

    `admit` returns when the manifest may be served and raises `RegistryError` (`DENIED`) when not;
    it is given the digest, media type and bytes that would be served.
    """

    async def admit(self, request: Request, repository: str, digest: str, media_type: str, payload: bytes) -> None: ...


@dataclass(frozen=True)
class RegistryServices:
    blobs: BlobService
    uploads: UploadService
    manifests: ManifestService
    listings: ListingService
    local_reads: bool = False
    """Whether single indexed reads may run on the event loop (SQLite); else they go to a thread."""
    pulls: PullRecorder | None = None
    """Counts manifest pulls in memory (governance); None records nothing."""
    read_gate: ManifestReadGate | None = None
    """Judges each manifest GET before it is served (the scan gate); None serves every manifest."""
    redirects: RedirectPolicy = RedirectPolicy()
    """Which blob GETs may be redirected to the object store (when the store gives URLs)."""


async def blocking(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a service call that touches the database or disk in a worker thread."""
    return await anyio.to_thread.run_sync(lambda: function(*args, **kwargs))


async def quick_read(services: RegistryServices, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a single indexed metadata read: inline when the store is local, else in a thread.

    On SQLite the read takes microseconds, less than handing it to a thread; over a network the
    event loop must not wait for it.
    """
    if services.local_reads:
        return function(*args, **kwargs)
    return await blocking(function, *args, **kwargs)


def actor_of(request: Request) -> Actor:
    """The actor authentication attached to the request (anonymous without authentication)."""
    actor = request.scope.get("moorage.actor")
    if not isinstance(actor, Actor):
        client = request.scope.get("client")
        return _anonymous_at(client[0]) if client else ANONYMOUS
    if actor.source_address is None and request.client is not None:
        actor = replace(actor, source_address=request.client.host)
    return actor


@functools.lru_cache(maxsize=4096)
def _anonymous_at(address: str) -> Actor:
    """The anonymous actor of an address, made once (a registry without authentication asks on every pull)."""
    return replace(ANONYMOUS, source_address=address)


def readable_of(request: Request) -> MayRead | None:
    """Which repositories the caller may pull, for checks made inside a service; None: all of them.

    Set by the auth guard (`moorage.readable`); without authentication there is no guard and
    everything is readable. A guarded request without it reads nothing (fail closed).
    """
    readable = request.scope.get("moorage.readable")
    if callable(readable):
        return readable  # type: ignore[no-any-return]
    if "moorage.actor" in request.scope:
        return _nothing
    return None


def _nothing(repository: str) -> bool:
    return False
