"""A webhook receiver on loopback, for tests: records each request and checks its signature.

Each subscription under test gets its own path (`receiver.url("/a")`) and its secret is set with
`receiver.secrets["/a"] = secret`. The receiver can answer with another status (`status`), slowly
(`delay`), and be stopped and started again on the same port, as a receiver that goes down would.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from moorage.events.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, verify

T = TypeVar("T")


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signed: bool
    """Whether the signature verified with the path's secret and a fresh timestamp."""

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]

    @property
    def event_id(self) -> str:
        return self.headers[EVENT_ID_HEADER.lower()]


class WebhookReceiver:
    def __init__(self, port: int = 0, tls: tuple[Path, Path] | None = None) -> None:
        """`tls`: a certificate and key file to answer HTTPS with (else plain HTTP)."""
        self.port = port
        self.tls = tls
        self.secrets: dict[str, str] = {}
        self.received: list[Received] = []
        self.arrived: list[str] = []
        """Event ids of requests as they arrive (before any `delay`), answered or not."""
        self.status = 200
        self.delay = 0.0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server protocol
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {key.lower(): value for key, value in self.headers.items()}
                secret = receiver.secrets.get(self.path)
                signature = headers.get(SIGNATURE_HEADER.lower(), "")
                signed = secret is not None and verify(secret, signature, body, time.time())
                with receiver._lock:
                    receiver.arrived.append(headers.get(EVENT_ID_HEADER.lower(), ""))
                if receiver.delay:
                    receiver._closing.wait(receiver.delay)
                with receiver._lock:
                    receiver.received.append(Received(self.path, headers, body, signed))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._closing.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering (connections are refused) until `start` again on the same port."""
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [item for item in self.received if item.path == path]

    def wait_for(self, check: Callable[[], T | None], timeout: float = 20.0) -> T:
        """Poll until `check` returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"the receiver did not get what was expected within {timeout} s: {self.received}")
            time.sleep(0.05)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
