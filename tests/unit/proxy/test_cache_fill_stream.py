"""What the first client of a cache fill receives: every piece as it comes, the last one only once verified."""

from __future__ import annotations

import asyncio

import pytest

from moorage.proxy import fill as fill_module
from moorage.proxy.fill import BlobFill, FillFailed, stream_to_client


async def _collect(
    fill: BlobFill, feed: list[bytes | BaseException | None]
) -> tuple[list[bytes], BaseException | None]:
    received: list[bytes] = []

    async def produce() -> None:
        for item in feed:
            await fill.pieces.put(item)

    producer = asyncio.create_task(produce())
    error: BaseException | None = None
    try:
        async for piece in stream_to_client(fill):
            received.append(piece)
    except FillFailed as failed:
        error = failed
    await producer
    return received, error


def test_a_verified_fill_delivers_every_piece() -> None:
    received, error = asyncio.run(_collect(BlobFill(), [b"a", b"b", b"c", None]))
    assert (received, error) == ([b"a", b"b", b"c"], None)


def test_a_failed_fill_withholds_the_last_piece_and_raises() -> None:
    received, error = asyncio.run(_collect(BlobFill(), [b"a", b"b", b"c", FillFailed("digest mismatch")]))
    assert received == [b"a", b"b"]  # short of Content-Length: the client sees a failed download
    assert isinstance(error, FillFailed)


def test_a_client_that_leaves_does_not_block_the_fill() -> None:
    async def scenario() -> None:
        fill = BlobFill()
        stream = stream_to_client(fill)
        await fill.pieces.put(b"a")
        await fill.pieces.put(b"b")
        assert await anext(stream) == b"a"
        await stream.aclose()  # the client went away
        assert not fill.listening
        for _ in range(100):  # more than the queue holds: a fill that kept waiting would hang here
            if fill.listening:
                await fill.pieces.put(b"x")

    asyncio.run(asyncio.wait_for(scenario(), 5))


@pytest.mark.parametrize("pieces", [0, 1])
def test_an_empty_or_single_piece_blob_is_delivered_once_verified(pieces: int) -> None:
    feed: list[bytes | BaseException | None] = [b"only"] * pieces + [None]
    received, _ = asyncio.run(_collect(BlobFill(), feed))
    assert received == [b"only"] * pieces


def test_a_client_that_stops_reading_is_cut_off_and_the_fill_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fill_module, "CLIENT_STALL_SECONDS", 0.05)

    async def scenario() -> None:
        fill = BlobFill()
        for _ in range(fill_module.QUEUE_PIECES):
            await fill_module.hand_over(fill, b"x")
        await fill_module.hand_over(fill, b"one too many")  # nobody reads: times out instead of waiting
        assert not fill.listening
        await fill_module.hand_over(fill, b"later")  # the fill goes on without waiting
        received, error = [], None
        try:
            async for piece in stream_to_client(fill):
                received.append(piece)
        except FillFailed as failed:
            error = failed
        assert received == [] and error is not None  # its response ends short: aborted

    asyncio.run(asyncio.wait_for(scenario(), 5))
