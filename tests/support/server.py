"""Start and stop a real `moorage serve` process, and give tests a fresh PostgreSQL database."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

POSTGRES_ADMIN_URL = os.environ.get("MOORAGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class RunningRegistry:
    """A registry reachable over HTTP on loopback."""

    url: str
    host: str
    data_dir: Path | None = None
    log_path: Path | None = None
    database_url: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    settings: dict[str, str] = field(default_factory=dict, repr=False)
    """The settings it was started with (MOORAGE_* variables, lower case): where its blobs live, for one."""

    def stored_blob_size(self, digest: str) -> int:
        """The blob store's truth about a blob: the size of its file, or of its object in the S3 bucket."""
        algorithm, hex_digest = digest.split(":")
        if self.settings.get("storage") == "s3":
            from tests.support.object_store import stored_object_size

            return stored_object_size(self.settings, f"blobs/{algorithm}/{hex_digest[:2]}/{hex_digest}")
        assert self.data_dir is not None
        return (self.data_dir / "blobs" / algorithm / hex_digest[:2] / hex_digest).stat().st_size

    @classmethod
    def external(cls, url: str) -> RunningRegistry:
        url = url.rstrip("/")
        return cls(url=url, host=url.split("://", 1)[1])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    @property
    def port(self) -> int:
        return int(self.host.rsplit(":", 1)[1])

    def kill(self) -> None:
        """Stop the server with SIGKILL, as a crash would."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Stop the server cleanly, as a service manager (SIGTERM) or Ctrl-C (SIGINT) would; its exit status."""
        assert self.process is not None
        self.process.send_signal(signum)
        return self.process.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(url: str, process: subprocess.Popen[bytes] | None, log_path: Path | None) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            log = log_path.read_text(errors="replace") if log_path else ""
            raise RuntimeError(f"moorage exited with {process.returncode}:\n{log}")
        try:
            if httpx.get(f"{url}/v2/", timeout=2).status_code in (200, 401):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"moorage did not answer on {url} within 60 s")


def wait_for_workers(log_path: Path, offset: int, workers: int) -> None:
    """Until every granian worker has started (the first one answering is not all of them).

    granian loses the stop request of a worker still starting when SIGTERM arrives, and then waits
    for it for ever: a test that stopped a two-worker server at once waited 20 s for its SIGKILL.
    """
    deadline = time.monotonic() + 60
    while workers > 1 and time.monotonic() < deadline:
        with open(log_path, "rb") as log:
            log.seek(offset)
            if log.read().count(b"Started worker-") >= workers:
                return
        time.sleep(0.1)


@contextlib.contextmanager
def start_server(data_dir: Path, database_url: str | None = None, **settings: str) -> Iterator[RunningRegistry]:
    """Run `moorage serve` on a loopback port until the context ends: `port` if given, else a free one.

    Other settings are passed as MOORAGE_* environment variables (key upper-cased).
    """
    chosen = int(settings.pop("port")) if "port" in settings else None
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"{data_dir.name}-server.log"
    # Tests expire images they have just pushed; a test of the grace period sets its own.
    settings = {"lifecycle_grace_period_seconds": "0", **settings}
    env = {**os.environ, **{f"MOORAGE_{key.upper()}": value for key, value in settings.items()}}
    if database_url:
        env["MOORAGE_DATABASE_URL"] = database_url
    for attempt in range(1 if chosen else 5):
        # Another test may take the free port between our probe and the server's bind; try another.
        port = chosen or free_port()
        command = [sys.executable, "-m", "moorage", "serve", "--host", "127.0.0.1", "--port", str(port)]
        command += ["--data-dir", str(data_dir)]
        with open(log_path, "ab") as log:
            offset = log.tell()
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(url, process, log_path)
            if settings.get("server", "granian") == "granian":
                wait_for_workers(log_path, offset, int(settings.get("workers", "1")))
            break
        except RuntimeError:
            if chosen or attempt == 4 or "cannot listen on" not in log_path.read_text(errors="replace"):
                raise
    server = RunningRegistry(url, f"127.0.0.1:{port}", data_dir, log_path, database_url, process, settings)
    try:
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one server; dropped afterwards.

    Skips when no server answers, unless CI is set or MOORAGE_TEST_POSTGRES names the server (as
    scripts/test does when it starts one): then a missing database is a failure.
    """
    import psycopg

    name = f"moorage_test_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        if os.environ.get("CI") or os.environ.get("MOORAGE_TEST_POSTGRES"):
            raise
        pytest.skip(f"PostgreSQL is not reachable: {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
