"""The upload pump hashes and writes every byte of a body in order, whatever its chunks' sizes,
while the hash and the write of one buffer run side by side."""

import hashlib
import os
from collections.abc import AsyncIterator

import anyio

from moorage.domain.digests import new_hasher
from moorage.registry.uploads import BUFFER_SIZE, _pump


class CollectingWriter:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.data += data

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
