"""One upstream fetch of a missing blob across processes and nodes: a lease in the metadata store.

In one process, concurrent pulls of a missing blob share one fill (fill.py). A server runs several
granian workers, and nodes share the metadata store, so before fetching a process takes the
blob's lease (a row in `cache_fill_leases`). Whoever does not get it waits: it looks every
`POLL_SECONDS` whether the blob is cached (then it is served from the cache) or the lease was
given back or ran out (a failed fill, or a dead process: then it takes the lease and fetches
itself). The holder renews the lease every `RENEW_SECONDS` while bytes flow, so no database
transaction is held across the transfer, and a holder that died stops blocking the others within
`LEASE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from moorage.metadata import blobs, cache_fills
from moorage.metadata.common import now
from moorage.metadata.database import Database
from moorage.registry.renewal import renewed

log = logging.getLogger(__name__)

LEASE_SECONDS = 30.0
"""How long a lease lasts unless renewed: how long a dead filler delays the others at most."""
RENEW_SECONDS = 10.0
POLL_SECONDS = 0.25
"""How often a process waiting for another's fill looks whether it is done (one cheap read)."""


class FillLeases:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def acquire(self, repository: str, digest: str) -> str | None:
        """Wait until this process may fetch the blob: its lease owner id, or None once it is cached.

        Returns at once when nobody else is filling it. A blob cached by the time the lease is taken
        (another process just finished) gives the lease back and returns None.
        """
        owner = uuid.uuid4().hex
        while True:
            cached, held = await asyncio.to_thread(self._state, repository, digest)
            if cached:
                return None
            if not held and await asyncio.to_thread(self._take, repository, digest, owner):
                if await asyncio.to_thread(self._cached, repository, digest):
                    await self.release(repository, digest, owner)
                    return None
                return owner
            await asyncio.sleep(POLL_SECONDS)

    @contextlib.asynccontextmanager
    async def renewing(self, repository: str, digest: str, owner: str) -> AsyncIterator[None]:
        """Keep the lease while the body runs, and give it back after (whatever the outcome)."""
        extend = lambda: self._extend(repository, digest, owner, now() + timedelta(seconds=LEASE_SECONDS))  # noqa: E731
        try:
            async with renewed(extend, RENEW_SECONDS, f"the fill of {digest} in {repository}"):
                yield
        finally:
            try:
                await asyncio.shield(self.release(repository, digest, owner))
            except Exception as error:  # noqa: BLE001 - the lease runs out by itself
                log.warning("giving back the fill lease of %s in %s failed: %s", digest, repository, error)

    async def release(self, repository: str, digest: str, owner: str) -> None:
        await asyncio.to_thread(self._give_back, repository, digest, owner)

    # -- blocking parts, run in threads ------------------------------------------------------------

    def _state(self, repository: str, digest: str) -> tuple[bool, bool]:
        with self.database.read() as connection:
            if blobs.size_in_repository(connection, repository, digest) is not None:
                return True, False
            return False, cache_fills.held(connection, repository, digest, now())

    def _cached(self, repository: str, digest: str) -> bool:
        with self.database.read() as connection:
            return blobs.size_in_repository(connection, repository, digest) is not None

    def _take(self, repository: str, digest: str, owner: str) -> bool:
        moment = now()
        with self.database.write() as connection:
            return cache_fills.take(
                connection, repository, digest, owner, moment, moment + timedelta(seconds=LEASE_SECONDS)
            )

    def _extend(self, repository: str, digest: str, owner: str, until: datetime) -> None:
        with self.database.write() as connection:
            cache_fills.renew(connection, repository, digest, owner, until)

    def _give_back(self, repository: str, digest: str, owner: str) -> None:
        with self.database.write() as connection:
            cache_fills.give_back(connection, repository, digest, owner)
