"""A small TCP load balancer for the tests: each new connection goes to the next node that accepts it.

It stands in front of several `moorage serve` nodes the way a load balancer does, at the connection
level (HTTP keep-alive connections stay on their node), and skips a node that refuses connections,
so a killed node drops out by itself. It runs an asyncio loop in a thread of the test process.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class RoundRobinProxy:
    backends: list[tuple[str, int]]
    host: str = "127.0.0.1"
    port: int = 0
    connections: dict[int, int] = field(default_factory=dict)
    """Connections forwarded, per backend port."""

    def __post_init__(self) -> None:
        self._turn = itertools.count()
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="round-robin-proxy", daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, self.host, 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._started.set()
        self._loop.run_forever()

    def start(self) -> None:
        self._thread.start()
        self._started.wait(10)

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        first = next(self._turn)
        for attempt in range(len(self.backends)):
            host, port = self.backends[(first + attempt) % len(self.backends)]
            try:
                streams = await asyncio.open_connection(host, port)
            except OSError:
                continue
            self.connections[port] = self.connections.get(port, 0) + 1
            return streams
        raise ConnectionRefusedError("no node accepts connections")

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            node_reader, node_writer = await self._connect()
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, node_writer), _pipe(node_reader, client_writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.CancelledError):
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError, RuntimeError):
        writer.close()


@contextlib.contextmanager
def round_robin(backends: list[tuple[str, int]]) -> Iterator[RoundRobinProxy]:
    proxy = RoundRobinProxy(backends)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
