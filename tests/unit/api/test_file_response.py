"""Sending a file's bytes: every byte in order, one piece of memory, no wait for the disk on the loop."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import pytest

from moorage.api import file_response
from moorage.api.file_response import CACHED_PIECE, FAST_READER, LARGE_PIECE, RATE_WINDOW, FileRangeResponse, PieceSize
from tests.support.page_cache import evict_from_page_cache

Message = dict[str, Any]
OCTET_STREAM = "application/octet-stream"


def written_file(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return data


def send_response(
    response: FileRangeResponse, fail_on_body: int | None = None, disconnect_after_body: int | None = None
) -> list[Message]:
    """Run the ASGI response and collect what it sends.

    The client may leave mid-body in either of the ways servers report it: `send` raising
    (`fail_on_body`), or `receive` answering `http.disconnect` (`disconnect_after_body`).
    """
    messages: list[Message] = []

    async def run() -> None:
        gone = anyio.Event()
        requested = False

        async def receive() -> Message:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            bodies = sum(1 for sent in messages if sent["type"] == "http.response.body")
            if message["type"] == "http.response.body" and fail_on_body == bodies:
                raise OSError("connection reset by peer")
            messages.append(message)
            if disconnect_after_body is not None and bodies + 1 >= disconnect_after_body:
                gone.set()  # like granian's send, this one does not yield to the loop

        await response({"type": "http", "method": "GET", "headers": []}, receive, send)

    anyio.run(run)
    return messages


def body_of(messages: list[Message]) -> bytes:
    return b"".join(message["body"] for message in messages if message["type"] == "http.response.body")


def respond(path: Path, start: int, end: int, status: int = 200) -> FileRangeResponse:
    headers = {"Content-Length": str(end - start)}
    return FileRangeResponse(path, start, end, status_code=status, headers=headers, media_type=OCTET_STREAM)


def test_whole_file_arrives_in_pieces_with_more_body_until_the_last(tmp_path: Path) -> None:
    data = written_file(tmp_path / "blob", 3 * CACHED_PIECE + 123)
    messages = send_response(respond(tmp_path / "blob", 0, len(data)))
    assert messages[0]["type"] == "http.response.start"
    assert messages[0]["status"] == 200
    assert (b"content-length", str(len(data)).encode()) in messages[0]["headers"]
    bodies = messages[1:]
    assert body_of(messages) == data
    assert all(len(message["body"]) <= CACHED_PIECE for message in bodies)
    assert [message["more_body"] for message in bodies] == [True] * (len(bodies) - 1) + [False]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, 1),
        (CACHED_PIECE - 5, CACHED_PIECE + 5),
        (1000, 2 * CACHED_PIECE + 1),
        (3 * CACHED_PIECE, 3 * CACHED_PIECE + 123),
    ],
)
def test_a_range_is_exactly_its_bytes(tmp_path: Path, start: int, end: int) -> None:
    data = written_file(tmp_path / "blob", 3 * CACHED_PIECE + 123)
    messages = send_response(respond(tmp_path / "blob", start, end, status=206))
    assert messages[0]["status"] == 206
    assert body_of(messages) == data[start:end]


def test_empty_file_sends_one_empty_final_body(tmp_path: Path) -> None:
    written_file(tmp_path / "empty", 0)
    messages = send_response(respond(tmp_path / "empty", 0, 0))
    assert messages[1:] == [{"type": "http.response.body", "body": b"", "more_body": False}]


def test_missing_file_raises_before_anything_is_sent(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        respond(tmp_path / "absent", 0, 10)


def test_file_unlinked_after_the_response_was_made_is_still_sent_whole(tmp_path: Path) -> None:
    data = written_file(tmp_path / "blob", 2 * CACHED_PIECE)
    response = respond(tmp_path / "blob", 0, len(data))
    (tmp_path / "blob").unlink()
    assert body_of(send_response(response)) == data


def test_client_leaving_mid_body_stops_the_response_and_closes_the_file(tmp_path: Path) -> None:
    data = written_file(tmp_path / "blob", 4 * CACHED_PIECE)
    response = respond(tmp_path / "blob", 0, len(data))
    messages = send_response(response, fail_on_body=1)
    assert len(body_of(messages)) == CACHED_PIECE
    with pytest.raises(OSError):
        os.fstat(response.descriptor)


def test_disconnect_reported_by_receive_stops_the_sending(tmp_path: Path) -> None:
    """granian does not raise on a send to a closed connection; it reports `http.disconnect`."""
    data = written_file(tmp_path / "blob", 64 * CACHED_PIECE)
    response = respond(tmp_path / "blob", 0, len(data))
    messages = send_response(response, disconnect_after_body=2)
    # The watcher needs one yield to hear the disconnect and the sender one more to be cancelled.
    assert 2 <= len(messages) - 1 <= 2 + 2 * file_response.YIELD_EVERY
    with pytest.raises(OSError):
        os.fstat(response.descriptor)


def test_file_shorter_than_promised_ends_the_response_without_padding(tmp_path: Path) -> None:
    data = written_file(tmp_path / "blob", CACHED_PIECE + 10)
    messages = send_response(respond(tmp_path / "blob", 0, len(data) + 50))
    assert body_of(messages) == data
    assert messages[-1]["more_body"] is True  # never claims the body complete; the server aborts it


def test_cached_pieces_are_read_without_a_thread_and_evicted_ones_are_not(tmp_path: Path) -> None:
    written_file(tmp_path / "blob", 2 * CACHED_PIECE)
    descriptor = os.open(tmp_path / "blob", os.O_RDONLY)
    try:
        reader = file_response._PieceReader(descriptor)
        target = memoryview(bytearray(CACHED_PIECE))
        assert reader._read_cached(target, 0) == CACHED_PIECE
        evict_from_page_cache(tmp_path / "blob")
        assert reader._read_cached(target, CACHED_PIECE) is None
    finally:
        os.close(descriptor)


def test_pieces_not_in_the_page_cache_are_read_from_disk(tmp_path: Path) -> None:
    data = written_file(tmp_path / "blob", 5 * CACHED_PIECE + 7)
    evict_from_page_cache(tmp_path / "blob")
    assert body_of(send_response(respond(tmp_path / "blob", 0, len(data)))) == data


def test_piece_size_starts_small_then_follows_the_readers_rate() -> None:
    started = 1000.0
    pace = PieceSize(started=started)
    assert pace.size == CACHED_PIECE
    slow_seconds = RATE_WINDOW / (FAST_READER / 4)
    pace.sent(RATE_WINDOW, now=started + slow_seconds)
    assert pace.size == LARGE_PIECE
    fast_seconds = RATE_WINDOW / (FAST_READER * 4)
    pace.sent(RATE_WINDOW, now=started + slow_seconds + fast_seconds)
    assert pace.size == CACHED_PIECE


def test_piece_size_waits_for_a_whole_window_before_changing() -> None:
    pace = PieceSize(started=0.0)
    pace.sent(RATE_WINDOW - 1, now=1e9)  # very slow, but not a whole window yet
    assert pace.size == CACHED_PIECE


def test_large_pieces_read_back_exactly(tmp_path: Path) -> None:
    data = written_file(tmp_path / "blob", 2 * LARGE_PIECE + 3)
    descriptor = os.open(tmp_path / "blob", os.O_RDONLY)
    try:
        reader = file_response._PieceReader(descriptor)

        async def read_all() -> bytes:
            pieces, offset = [], 0
            while offset < len(data):
                piece = await reader.read(offset, min(LARGE_PIECE, len(data) - offset))
                pieces.append(piece)
                offset += len(piece)
            return b"".join(pieces)

        assert anyio.run(read_all) == data
    finally:
        os.close(descriptor)
