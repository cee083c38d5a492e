"""Upstream registries for the pull-through cache tests: Debian's Distribution, and a 429 stub.

The stub is the one fake upstream: no real registry on loopback can be made to rate limit on
demand. It answers every request with `429` and `Retry-After`, and counts what it was asked.
"""

from __future__ import annotations

import contextlib
import http.server
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.server import free_port


@dataclass
class RateLimitingUpstream:
    url: str
    retry_after: int
    requests: list[str] = field(default_factory=list)


@contextlib.contextmanager
def rate_limiting_upstream(retry_after: int = 30) -> Iterator[RateLimitingUpstream]:
    port = free_port()
    upstream = RateLimitingUpstream(f"http://127.0.0.1:{port}", retry_after)

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            upstream.requests.append(f"{self.command} {self.path}")
            body = b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}'
            self.send_response(429)
            self.send_header("Retry-After", str(upstream.retry_after))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_HEAD = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(port, Handler):
        yield upstream


@contextlib.contextmanager
def serving(port: int, handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[None]:
    """A threaded HTTP server on a loopback port for the duration of the context."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Distribution:
    url: str
    host: str
    log_path: Path
    process: subprocess.Popen[bytes]

    def access_log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def distribution_available() -> bool:
    return shutil.which("docker-registry") is not None


@contextlib.contextmanager
def run_distribution(work_dir: Path) -> Iterator[Distribution]:
    """Debian's `docker-registry` (Distribution 2.8) on a loopback port, with its access log on."""
    port = free_port()
    root = work_dir / "distribution-data"
    root.mkdir(parents=True, exist_ok=True)
    config = work_dir / "distribution.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: info\n  accesslog:\n    disabled: false\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log_path = work_dir / "distribution.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/v2/", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"docker-registry did not start:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.1)
    upstream = Distribution(url, f"127.0.0.1:{port}", log_path, process)
    try:
        yield upstream
    finally:
        upstream.stop()
