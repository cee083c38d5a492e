"""The HTTP transport of the upstream client: httpx over a connection pool that reads in large steps.

httpcore asks the socket for 64 KiB at a time, so a layer of 500 MiB costs the event loop about
8,000 rounds of read, parse and hand-over before a byte of it is hashed or written. In a cold pull
through the cache that receive loop was the slowest stage (docs/pull-through-cache.md, "Speed").
Letting each read take up to `READ_SIZE` (whatever the socket holds, never waiting for more) cuts
those rounds to the few the kernel's socket buffer allows; a small response is still read at once.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

READ_SIZE = 1 << 20
"""The most one read of an upstream response asks for (it returns what has arrived, up to this)."""


class _LargeReadStream(httpcore.AsyncNetworkStream):
    """A network stream whose reads ask for at least `READ_SIZE` bytes."""

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max(max_bytes, READ_SIZE), timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _LargeReadStream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _LargeReadBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return _LargeReadStream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _LargeReadStream(await self._backend.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def upstream_transport() -> httpx.AsyncHTTPTransport:
    """httpx's own transport (its request, response and error mapping), with large reads underneath.

    httpx builds its connection pool without a way to pass a network backend, so the pool is
    replaced by one with the same settings as httpx's defaults (certificate checks included).
    """
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(  # noqa: SLF001 - the one seam httpx leaves
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=100,
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
        network_backend=_LargeReadBackend(),
    )
    return transport
