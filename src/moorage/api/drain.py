"""Reading what is left of a request body before answering, so a client that sends first reads the answer.

Many HTTP/1.1 clients (Python's http.client among them) send the whole body before reading. When
the server answers early — 413 for a large manifest, 401, 404, 416 — and closes the connection with
the body unread, the kernel resets the connection and such a client sees "connection reset" instead
of the error. So before the response starts, the unread rest of the body is read and discarded, up to
a bound: a body larger than that (by its Content-Length, or once the bound is passed) is left unread
and the connection closed, as before. A client that asked `Expect: 100-continue` and was sent
nothing yet has not sent its body either: it is not drained.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DRAIN_LIMIT = 16 * 1024 * 1024
"""Bytes of an unread body read and discarded to deliver an early answer (a manifest's limit is 4 MiB)."""


def _declared_body(scope: Scope) -> int | None:
    """The body's declared length: its Content-Length, -1 when chunked, None when it has no body."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
        if name == b"transfer-encoding":
            return -1
    return None


def _expects_continue(scope: Scope) -> bool:
    return any(name == b"expect" and value.lower() == b"100-continue" for name, value in scope.get("headers", ()))


class DrainUnreadBody:
    """ASGI middleware: requests without a body pass straight through (the pull path pays nothing)."""

    def __init__(self, app: ASGIApp, limit: int = DRAIN_LIMIT) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = _declared_body(scope) if scope["type"] == "http" else None
        if not declared or declared > self.limit:
            await self.app(scope, receive, send)
            return
        finished = False
        received = 0

        async def tracking_receive() -> Message:
            nonlocal finished, received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                finished = not message.get("more_body", False)
            else:  # http.disconnect: nothing more will come
                finished = True
            return message

        async def draining_send(message: Message) -> None:
            waiting_for_continue = received == 0 and _expects_continue(scope)
            if message["type"] == "http.response.start" and not finished and not waiting_for_continue:
                await drain()
            await send(message)

        async def drain() -> None:
            discarded = 0
            while not finished and discarded <= self.limit:
                message = await tracking_receive()
                discarded += len(message.get("body", b""))

        await self.app(scope, tracking_receive, draining_send)
