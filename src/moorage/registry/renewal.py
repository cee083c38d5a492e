"""Keeping a lease in the metadata store alive while a long piece of work runs (an upload's append,
a cache fill): a renewal in a thread at a fixed interval, until the work ends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def renewed(renew: Callable[[], object], every: float, what: str) -> AsyncIterator[None]:
    """Call `renew` (blocking: in a thread) every `every` seconds while the body runs.

    A renewal that fails is logged and tried again at the next turn: the work goes on, and a lease
    that does run out is the holder's problem to notice when it gives the lease back.
    """

    async def keep_renewing() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(renew)
            except Exception as error:  # noqa: BLE001 - the next turn tries again
                log.warning("renewing the lease of %s failed: %s", what, error)

    task = asyncio.create_task(keep_renewing())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
