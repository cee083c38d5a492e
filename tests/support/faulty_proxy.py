"""A tiny HTTP proxy between the cache and a real upstream that damages one blob on the way.

Every request is forwarded to the upstream as it came (headers, auth), every answer comes back as
the upstream gave it, except a `GET` of the blob named `corrupt`: its bytes come back with one
byte flipped (same length, so only the digest check can tell), or cut short (`truncate`), like a
faulty middlebox or a dropped connection would. It also counts the blob `GET`s it forwards
(`blob_gets`) and can hold each one back for `blob_delay` seconds, a slow upstream, so that
concurrent pulls overlap with the fill.
"""

from __future__ import annotations

import contextlib
import http.server
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx

from tests.support.server import free_port
from tests.support.upstreams import serving

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-encoding"}


@dataclass
class FaultyProxy:
    url: str
    corrupt: str | None = None
    """The blob digest whose bytes are damaged."""
    truncate: bool = False
    """Cut the damaged blob short instead of flipping a byte."""
    damaged: list[str] = field(default_factory=list)
    blob_gets: list[str] = field(default_factory=list)
    """Paths of the blob GETs forwarded (one entry per upstream fetch)."""
    blob_delay: float = 0.0
    fail_blobs: bool = False
    """Answer every blob GET with 503, as an upstream that is failing."""


@contextlib.contextmanager
def faulty_proxy(upstream: str) -> Iterator[FaultyProxy]:
    port = free_port()
    proxy = FaultyProxy(f"http://127.0.0.1:{port}")
    client = httpx.Client(base_url=upstream, timeout=30)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            if self.command == "GET" and "/blobs/" in self.path:
                proxy.blob_gets.append(self.path)
                time.sleep(proxy.blob_delay)
                if proxy.fail_blobs:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            answer = client.request(self.command, self.path, headers=headers)
            body = answer.content
            damaged = proxy.corrupt is not None and self.command == "GET" and self.path.endswith(proxy.corrupt)
            if damaged and body:
                proxy.damaged.append(self.path)
                if not proxy.truncate:
                    middle = len(body) // 2
                    body = body[:middle] + bytes([body[middle] ^ 0xFF]) + body[middle + 1 :]
            self.send_response(answer.status_code)
            for key, value in answer.headers.items():
                if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            length = len(answer.content) if self.command != "HEAD" else int(answer.headers.get("content-length", 0))
            self.send_header("Content-Length", str(length))
            self.end_headers()
            if self.command == "HEAD":
                return
            if damaged and proxy.truncate:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

        do_GET = do_HEAD = _forward

        def log_message(self, format: str, *args: object) -> None:
            pass

    try:
        with serving(port, Handler):
            yield proxy
    finally:
        client.close()
