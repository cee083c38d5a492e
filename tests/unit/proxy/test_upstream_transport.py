"""The upstream transport reads a large body in steps larger than httpcore's 64 KiB, and intact."""

from __future__ import annotations

import asyncio
import os

import httpx

from moorage.proxy.transport import upstream_transport

BODY = os.urandom(8 << 20)


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY))
    writer.write(BODY)
    await writer.drain()
    writer.close()


async def _fetch() -> tuple[bytes, int]:
    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/v2/x/blobs/y"
    async with (
        server,
        httpx.AsyncClient(transport=upstream_transport(), trust_env=False) as client,
        client.stream("GET", url) as response,
    ):
        pieces = [piece async for piece in response.aiter_raw()]
    return b"".join(pieces), max(len(piece) for piece in pieces)


def test_a_large_body_arrives_intact_in_steps_over_64_kib() -> None:
    body, largest = asyncio.run(_fetch())
    assert body == BODY
    assert largest > 64 << 10
