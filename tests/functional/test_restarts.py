"""Clean stops lose nothing, and a crash (of the server or of one worker) never blocks a restart.

These tests run their own servers (`start_registry`) because they stop, kill and restart them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import StartRegistry
from tests.functional.governance_helpers import images
from tests.functional.helpers import push_image, unique_repo
from tests.support.server import RunningRegistry


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_pulls_counted_just_before_a_clean_stop_are_there_after_the_restart(
    start_registry: StartRegistry, tmp_path: Path, signum: int
) -> None:
    data_dir = tmp_path / "data"
    repo = unique_repo("restart")
    server = start_registry(data_dir, pull_flush_interval="3600")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        push_image(client, repo, "v1")
        for _ in range(3):
            assert client.get(f"/v2/{repo}/manifests/v1").status_code == 200
    assert server.stop(signum) == 0

    restarted = start_registry(data_dir)
    with httpx.Client(base_url=restarted.url, timeout=30) as client:
        [image] = images(client, repo)["images"]
        assert image["pull_count"] == 3 and image["last_pulled_at"] is not None


def hold_keep_alive_connection(server: RunningRegistry) -> socket.socket:
    """An HTTP/1.1 client that made one request and keeps its connection open, as pools do."""
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    connection.sendall(f"GET /v2/ HTTP/1.1\r\nHost: {server.host}\r\n\r\n".encode())
    assert connection.recv(4096).startswith(b"HTTP/1.1 200")
    return connection


def test_a_server_killed_with_a_keep_alive_connection_open_restarts_on_the_same_port_at_once(
    start_registry: StartRegistry, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    repo = unique_repo("restart")
    server = start_registry(data_dir)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        manifest = push_image(client, repo, "v1")
    connection = hold_keep_alive_connection(server)
    try:
        server.kill()
        restarted = start_registry(data_dir, port=server.port)
        with httpx.Client(base_url=restarted.url, timeout=30) as client:
            assert client.get(f"/v2/{repo}/manifests/v1").headers["Docker-Content-Digest"] == manifest.digest
    finally:
        connection.close()


def worker_pids(server: RunningRegistry) -> set[int]:
    """The server's child processes: granian's workers (the start-up preparation has exited by now)."""
    assert server.process is not None
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children}


def test_a_worker_killed_with_sigkill_is_replaced_and_the_registry_keeps_serving(
    start_registry: StartRegistry,
) -> None:
    server = start_registry()
    repo = unique_repo("restart")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        manifest = push_image(client, repo, "v1")
    [worker] = worker_pids(server)
    os.kill(worker, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:
        try:
            with httpx.Client(base_url=server.url, timeout=5) as client:
                response = client.get(f"/v2/{repo}/manifests/v1")
            if response.status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert server.process is not None and server.process.poll() is None, "the server exited"
        assert time.monotonic() < deadline, "no worker answered within 30 s"
        time.sleep(0.1)
    assert response.headers["Docker-Content-Digest"] == manifest.digest
    [replacement] = worker_pids(server)
    assert replacement != worker


def test_a_second_server_on_a_port_where_one_listens_is_refused(start_registry: StartRegistry, tmp_path: Path) -> None:
    server = start_registry()
    command = [sys.executable, "-m", "moorage", "serve", "--host", "127.0.0.1", "--port", str(server.port)]
    second = subprocess.run(
        [*command, "--data-dir", str(tmp_path / "second")], capture_output=True, text=True, timeout=60
    )
    assert second.returncode != 0 and "cannot listen on" in second.stderr + second.stdout
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get("/v2/").status_code == 200


def test_a_stop_waits_for_a_request_in_progress_no_longer_than_the_shutdown_timeout(
    start_registry: StartRegistry,
) -> None:
    """A stop lets requests finish, but not forever: a client that stalls mid-upload (or a worker that
    never saw the signal) must not keep a node from stopping for a rolling upgrade."""
    server = start_registry(shutdown_timeout_seconds="2", workers="2")
    stalled = threading.Event()
    release = threading.Event()

    def stalling_body() -> Iterator[bytes]:
        yield b"x" * 65536
        stalled.set()
        release.wait(120)  # the client stalls; the test ends it when the server is gone
        yield b"y"

    def upload() -> None:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            location = client.post("/v2/stop/stall/blobs/uploads/").headers["location"]
            with contextlib.suppress(httpx.HTTPError):
                client.patch(location, content=stalling_body())

    uploader = threading.Thread(target=upload)
    uploader.start()
    try:
        assert stalled.wait(60)
        assert server.process is not None
        os.killpg(server.process.pid, signal.SIGTERM)
        server.process.wait(timeout=60)  # it stops by itself: no SIGKILL from the test
        assert "refused to gracefully stop" in server.log()
    finally:
        release.set()
        uploader.join(60)
