"""Sending a local file, or a byte range of it, as a response body.

Measured on the reference machine (docs/benchmarks.md, "Serving blob bytes"): granian's `pathsend`
reads a file in 128 KiB pieces on a blocking thread and hands each piece to its I/O thread, and
those hand-offs cost more than the copies. Reading pieces on the event loop and passing them
straight to the server is faster and spends less CPU per byte.

The best piece size depends on the reader. A reader that takes more than a gigabyte a second (only
seen on loopback) is served fastest in 64 KiB pieces, which are still in the CPU cache when the
server copies them into the socket. A slower reader, which is every reader across a network, is
served cheapest in 1 MiB pieces: each piece costs a few thread wake-ups whatever its size. So the
size is chosen from the rate the reader has been taking the bytes at.

A read on the event loop must never wait for the disk, so every piece is read with
`RWF_NOWAIT`: the kernel copies it from the page cache or refuses at once, and a refused piece is
read in a worker thread instead.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Mapping
from pathlib import Path

import anyio
import anyio.lowlevel
import anyio.to_thread
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

CACHED_PIECE = 64 * 1024
"""For fast readers: small enough to stay in the CPU's cache between the read and the socket write."""
LARGE_PIECE = 1024 * 1024
"""For readers slower than `FAST_READER`: fewer pieces, fewer wake-ups per byte."""
FAST_READER = 1_000_000_000
"""Bytes per second above which a reader gets `CACHED_PIECE`s."""
RATE_WINDOW = 16 * 1024 * 1024
"""Bytes sent between two looks at the reader's rate."""
YIELD_EVERY = 16
"""Pieces sent between two explicit yields to the event loop (see `_send_pieces`)."""

_NOWAIT = getattr(os, "RWF_NOWAIT", None)


class FileRangeResponse(Response):
    """Bytes [start, end) of a file, streamed; memory use is one piece whatever the file's size.

    The caller decides the status and the headers (`Content-Length`, `Content-Range`). The file is
    opened here, so a missing file raises `FileNotFoundError` while the handler can still answer
    with an error; once open, a later unlink does not change what is sent.
    """

    def __init__(
        self, path: Path, start: int, end: int, *, status_code: int, headers: Mapping[str, str], media_type: str
    ) -> None:
        super().__init__(status_code=status_code, headers=headers, media_type=media_type)
        self.descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.start = start
        self.end = end

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:
                # granian does not raise when a piece is sent to a closed connection (it logs each
                # one), so the client's going away is watched for and ends the sending.
                group.start_soon(_cancel_on_disconnect, receive, group.cancel_scope)
                with contextlib.suppress(OSError):
                    # A server that raises on a closed connection, or a file that shrank under us:
                    # the response has started, so all that is left is to stop sending.
                    await self._send_pieces(send)
                group.cancel_scope.cancel()
        finally:
            os.close(self.descriptor)

    async def _send_pieces(self, send: Send) -> None:
        reader = _PieceReader(self.descriptor)
        pace = PieceSize()
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        offset, pieces = self.start, 0
        while offset < self.end:
            piece = await reader.read(offset, min(pace.size, self.end - offset))
            offset += len(piece)
            await send({"type": "http.response.body", "body": piece, "more_body": offset < self.end})
            pace.sent(len(piece))
            pieces += 1
            if pieces % YIELD_EVERY == 0:
                # A send the server takes at once does not yield to the loop; without this the
                # disconnect watcher would not run until the whole file had been sent into the void.
                await anyio.lowlevel.checkpoint()
        if self.start == self.end:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


class PieceSize:
    """The size of the next piece, from the rate the reader took the last `RATE_WINDOW` bytes at.

    It starts with cached pieces: a small body is over before the rate means anything.
    """

    def __init__(self, started: float | None = None) -> None:
        self.size = CACHED_PIECE
        self._window_bytes = 0
        self._window_started = time.monotonic() if started is None else started

    def sent(self, count: int, now: float | None = None) -> None:
        """Count bytes the server accepted (`started` and `now`, monotonic seconds, are for tests)."""
        self._window_bytes += count
        if self._window_bytes < RATE_WINDOW:
            return
        now = time.monotonic() if now is None else now
        elapsed = now - self._window_started
        fast = elapsed <= 0 or self._window_bytes / elapsed >= FAST_READER
        self.size = CACHED_PIECE if fast else LARGE_PIECE
        self._window_bytes = 0
        self._window_started = now


class _PieceReader:
    """Reads pieces of one open file into a reused buffer, from the page cache when it can."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor = descriptor
        self._view = memoryview(bytearray(CACHED_PIECE))
        self._nowait = _NOWAIT

    async def read(self, offset: int, size: int) -> bytes:
        if len(self._view) < size:
            self._view = memoryview(bytearray(size))
        target = self._view[:size]
        count = self._read_cached(target, offset)
        if count is None:
            count = await anyio.to_thread.run_sync(os.preadv, self._descriptor, [target], offset)
        if count == 0:
            raise OSError(f"file ended at {offset}, before the promised length")
        return bytes(target[:count])

    def _read_cached(self, target: memoryview, offset: int) -> int | None:
        """Bytes read without waiting for the disk, or None when the disk would be needed."""
        if self._nowait is None:
            return None
        try:
            return os.preadv(self._descriptor, [target], offset, self._nowait)
        except BlockingIOError:
            return None
        except OSError as error:
            if error.errno not in {errno.EOPNOTSUPP, errno.EINVAL}:  # no RWF_NOWAIT on this file system
                raise
            self._nowait = None
            return None
