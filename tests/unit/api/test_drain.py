"""The body drain reads what an early answer left unread, within its bound, and nothing for bodiless requests."""

from __future__ import annotations

import anyio
import pytest
from starlette.types import Message, Receive, Scope, Send

from moorage.api.drain import DrainUnreadBody


async def refuse_at_once(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 401, "headers": []})
    await send({"type": "http.response.body", "body": b"no"})


def run(headers: list[tuple[bytes, bytes]], chunks: int, limit: int = 100) -> int:
    """Serve one refused request whose body comes in `chunks` 10-byte pieces; how many were read."""
    pieces = [{"type": "http.request", "body": b"x" * 10, "more_body": n < chunks - 1} for n in range(chunks)]
    read = 0

    async def receive() -> Message:
        nonlocal read
        if read == len(pieces):
            pytest.fail("read past the end of the body")
        read += 1
        return pieces[read - 1]

    async def send(message: Message) -> None:
        pass

    scope: Scope = {"type": "http", "method": "PUT", "path": "/", "headers": headers}
    anyio.run(DrainUnreadBody(refuse_at_once, limit), scope, receive, send)
    return read


def test_an_unread_body_within_the_bound_is_read_before_the_answer() -> None:
    assert run([(b"content-length", b"50")], chunks=5) == 5


def test_a_body_declared_larger_than_the_bound_is_left_unread() -> None:
    assert run([(b"content-length", b"500")], chunks=50) == 0


def test_a_chunked_body_is_read_only_up_to_the_bound() -> None:
    assert run([(b"transfer-encoding", b"chunked")], chunks=50, limit=100) == 11


def test_a_client_waiting_for_100_continue_is_not_made_to_send() -> None:
    assert run([(b"content-length", b"50"), (b"expect", b"100-continue")], chunks=5) == 0


def test_a_request_without_a_body_passes_straight_through() -> None:
    assert run([], chunks=0) == 0
