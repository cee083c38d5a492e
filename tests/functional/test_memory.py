"""The server streams blobs: its memory does not grow with the size of what passes through it."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.conftest import StartRegistry

MiB = 1024 * 1024
BLOB_SIZE = 1024 * MiB
ALLOWED_GROWTH = 100 * MiB


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
        pending.extend(int(child) for child in children)
    return total


class PeakMemory:
    """Samples a process tree's RSS in the background and keeps the highest value."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, tree_rss(self.pid))

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def chunks(size: int, hasher: hashlib._Hash) -> Iterator[bytes]:
    block = os.urandom(4 * MiB)
    sent = 0
    while sent < size:
        piece = block[: min(len(block), size - sent)]
        hasher.update(piece)
        sent += len(piece)
        yield piece


def test_a_one_gibibyte_blob_passes_through_without_growing_server_memory(start_registry: StartRegistry) -> None:
    server = start_registry()
    assert server.process is not None
    hasher = hashlib.sha256()
    with httpx.Client(base_url=server.url, timeout=120) as client:
        client.get("/v2/")
        baseline = tree_rss(server.process.pid)
        location = client.post("/v2/memory/big/blobs/uploads/").headers["Location"]
        with PeakMemory(server.process.pid) as during_upload:
            response = client.patch(location, content=chunks(BLOB_SIZE, hasher))
            assert response.status_code == 202, response.text
            digest = f"sha256:{hasher.hexdigest()}"
            finished = client.put(response.headers["Location"], params={"digest": digest})
            assert finished.status_code == 201, finished.text
        downloaded = hashlib.sha256()
        with (
            PeakMemory(server.process.pid) as during_download,
            client.stream("GET", f"/v2/memory/big/blobs/{digest}") as stream,
        ):
            for piece in stream.iter_bytes(4 * MiB):
                downloaded.update(piece)
    assert downloaded.hexdigest() == hasher.hexdigest()
    assert during_upload.peak - baseline < ALLOWED_GROWTH, (baseline, during_upload.peak)
    assert during_download.peak - baseline < ALLOWED_GROWTH, (baseline, during_download.peak)
