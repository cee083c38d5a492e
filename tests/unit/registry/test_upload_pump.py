"""The upload pump hashes and writes every byte of a body in order, whatever its chunks' sizes, in
one thread or, once the network outruns it, in two side by side."""

import hashlib
import os
import time
from collections.abc import AsyncIterator

import anyio

from moorage.domain.digests import new_hasher
from moorage.registry.uploads import BUFFER_SIZE, _pump


class CollectingWriter:
    def __init__(self, seconds_per_write: float = 0.0) -> None:
        self.data = bytearray()
        self.seconds_per_write = seconds_per_write
        self.spans: list[tuple[float, float]] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        started = time.perf_counter()
        time.sleep(self.seconds_per_write)
        self.data += data
        self.spans.append((started, time.perf_counter()))

    def close(self) -> None:
        pass


async def chunks_of(body: bytes, sizes: list[int]) -> AsyncIterator[bytes]:
    offset = 0
    while offset < len(body):
        for size in sizes:
            yield body[offset : offset + size]
            offset += size


def test_a_body_of_several_buffers_in_odd_chunks_is_written_and_hashed_whole() -> None:
    body = os.urandom(3 * BUFFER_SIZE + BUFFER_SIZE // 2 + 7)
    writer = CollectingWriter()
    hasher = new_hasher("sha256")

    async def pump() -> int:
        return await _pump(chunks_of(body, [65_536, 1, 1_000_003]), writer, hasher)

    assert anyio.run(pump) == len(body)
    assert bytes(writer.data) == body
    assert hasher.hexdigest() == hashlib.sha256(body).hexdigest()


def test_without_a_running_hash_the_body_is_still_written_whole() -> None:
    body = os.urandom(BUFFER_SIZE + 3)
    writer = CollectingWriter()

    async def pump() -> int:
        return await _pump(chunks_of(body, [300_000]), writer, None)

    assert anyio.run(pump) == len(body)
    assert bytes(writer.data) == body


class RecordingHasher:
    """SHA-256 that notes when it was busy."""

    def __init__(self) -> None:
        self.inner = hashlib.sha256()
        self.spans: list[tuple[float, float]] = []

    def update(self, data: bytes | bytearray | memoryview) -> None:
        started = time.perf_counter()
        self.inner.update(data)
        self.spans.append((started, time.perf_counter()))

    def hexdigest(self) -> str:
        return self.inner.hexdigest()


def overlap(first: list[tuple[float, float]], second: list[tuple[float, float]]) -> bool:
    return any(a_start < b_end and b_start < a_end for a_start, a_end in first for b_start, b_end in second)


def test_a_writer_slower_than_the_network_gets_a_second_thread_for_the_hash() -> None:
    body = os.urandom(6 * BUFFER_SIZE)
    writer = CollectingWriter(seconds_per_write=0.002)  # 32 slices per buffer: ~64 ms a buffer
    hasher = RecordingHasher()

    async def pump() -> int:
        return await _pump(chunks_of(body, [BUFFER_SIZE]), writer, hasher)

    assert anyio.run(pump) == len(body)
    assert bytes(writer.data) == body
    assert hasher.hexdigest() == hashlib.sha256(body).hexdigest()
    assert overlap(hasher.spans, writer.spans)


def test_a_writer_that_keeps_up_hashes_and_writes_in_turn() -> None:
    body = os.urandom(3 * BUFFER_SIZE)
    writer = CollectingWriter()
    hasher = RecordingHasher()

    async def slowly_arriving() -> AsyncIterator[bytes]:
        async for chunk in chunks_of(body, [BUFFER_SIZE]):
            await anyio.sleep(0.2)  # far longer than hashing and writing 4 MiB
            yield chunk

    async def pump() -> int:
        return await _pump(slowly_arriving(), writer, hasher)

    assert anyio.run(pump) == len(body)
    assert bytes(writer.data) == body
    assert not overlap(hasher.spans, writer.spans)
