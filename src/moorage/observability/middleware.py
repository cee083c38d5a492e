"""The outermost ASGI wrapper: gives each request its id, then feeds the access log and the metrics.

It sits on the hot path of every pull, so it does the least it can: no Request object, no header
parsing beyond one lookup, a counter per body message, and the route template computed once at
the end. The id is set in a context variable before the app runs, so every log line of the request
(in the event loop or in worker threads) carries it, and it is returned as `X-Request-Id`.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from moorage.observability import access_log
from moorage.observability.http_metrics import HttpMetrics
from moorage.observability.request_context import choose_request_id, request_id
from moorage.observability.routes import route_template

_HEADER = b"x-request-id"


class ObserveRequests:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics | None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = None
        for name, value in scope["headers"]:
            if name == _HEADER:
                incoming = value.decode("latin-1")
                break
        chosen = choose_request_id(incoming)
        token = request_id.set(chosen)
        header = (_HEADER, chosen.encode("ascii"))
        status = 0  # no response started yet
        declared = 0
        bytes_in = bytes_out = 0

        async def counting_receive() -> Message:
            nonlocal bytes_in
            message = await receive()
            if message["type"] == "http.request":
                bytes_in += len(message.get("body", b""))
            return message

        async def observing_send(message: Message) -> None:
            nonlocal status, bytes_out, declared
            kind = message["type"]
            if kind == "http.response.body":
                bytes_out += len(message.get("body", b""))
            elif kind == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                for name, value in headers:
                    if name == b"content-length":
                        declared = int(value)
                headers.append(header)
                message = {**message, "headers": headers}
            elif kind == "http.response.pathsend":  # zero-copy: the server sends the declared length
                bytes_out += declared
            await send(message)

        try:
            await self.app(scope, counting_receive, observing_send)
        except BaseException:
            status = status or 500  # what the server answers when the app raises before responding
            raise
        finally:
            # No response and no error: the client went away first (nginx's 499, "client closed request").
            status = status or 499
            duration = time.perf_counter() - started
            method = scope["method"]
            if self.metrics is not None:
                self.metrics.observe(method, route_template(scope), status, duration, bytes_in, bytes_out)
            if access_log.enabled():
                client = scope.get("client")
                access_log.write(
                    access_log.AccessRecord(
                        request_id=chosen,
                        remote=client[0] if client else None,
                        identity=access_log.identity(scope.get("moorage.actor")),
                        method=method,
                        path=scope.get("path", ""),
                        query=scope.get("query_string", b""),
                        status=status,
                        bytes_in=bytes_in,
                        bytes_out=bytes_out,
                        duration=duration,
                    )
                )
            request_id.reset(token)
