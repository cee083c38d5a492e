"""Throwaway measurement that chose moorage's HTTP server (granian vs uvicorn); kept to re-run.

`python -m benchmarks.candidates [--rounds N] [--size-mib N]` serves a tiny Starlette app with the
four shapes of work a registry does (small GET, HEAD, streamed hashed upload, big file download)
under each server configuration, and Distribution's raw blob upload/download for scale.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import shutil
import statistics
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from benchmarks import blobapi, loadtools
from benchmarks.processes import PeakRssSampler, Server, free_port, running
from benchmarks.registries import run_distribution

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_ENV = "MOORAGE_CANDIDATES_DIR"
FLUSH_BYTES = 2 * 1024 * 1024  # hand the worker thread ~2 MiB at a time: big enough to amortise the hop
SMALL_BODY = {"schemaVersion": 2, "layers": [{"digest": "sha256:" + "ab" * 32, "size": n} for n in range(12)]}


# --- the app ---------------------------------------------------------------------------------------


def _data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV, "/tmp/moorage-candidates"))


async def small(request: Request) -> Response:
    return JSONResponse(
        SMALL_BODY,
        headers={"Docker-Content-Digest": "sha256:" + "cd" * 32, "Docker-Distribution-Api-Version": "registry/2.0"},
    )


async def head(request: Request) -> Response:
    return Response(
        headers={
            "Content-Length": "1048576",
            "Docker-Content-Digest": "sha256:" + "ef" * 32,
            "Content-Type": "application/octet-stream",
        }
    )


def _consume(chunks: list[bytes], hasher: hashlib._Hash, file: BinaryIO) -> None:
    """Hash and write in a worker thread: hashlib releases the GIL for big buffers."""
    for chunk in chunks:
        hasher.update(chunk)
    file.writelines(chunks)


async def upload(request: Request) -> Response:
    """Stream the body; at most one batch is being hashed/written while the loop reads the next."""
    hasher = hashlib.sha256()
    path = _data_dir() / f"upload-{uuid.uuid4().hex}"
    size = 0
    with open(path, "wb", buffering=0) as file:
        batch: list[bytes] = []
        batch_size = 0
        pending: asyncio.Future[None] | None = None
        async for chunk in request.stream():
            batch.append(chunk)
            batch_size += len(chunk)
            if batch_size >= FLUSH_BYTES:
                if pending is not None:
                    await pending
                pending = asyncio.ensure_future(asyncio.to_thread(_consume, batch, hasher, file))
                size += batch_size
                batch, batch_size = [], 0
        if pending is not None:
            await pending
        size += batch_size
        await asyncio.to_thread(_consume, batch, hasher, file)
        await asyncio.to_thread(os.fsync, file.fileno())
    os.unlink(path)  # keep the disk from filling over many rounds; the fsync already happened
    return JSONResponse({"digest": "sha256:" + hasher.hexdigest(), "size": size}, status_code=201)


async def download(request: Request) -> Response:
    return FileResponse(_data_dir() / "big.bin", media_type="application/octet-stream")


app = Starlette(
    routes=[
        Route("/small", small),
        Route("/head", head, methods=["HEAD"]),
        Route("/upload", upload, methods=["PUT"]),
        Route("/file", download),
    ]
)


# --- the measurement -------------------------------------------------------------------------------


def server_commands(port: int) -> dict[str, list[str]]:
    """Each configuration under test, as the command that starts it."""
    venv_bin = Path(sys.executable).parent
    granian = [
        str(venv_bin / "granian"),
        "--interface",
        "asgi",
        "--loop",
        "uvloop",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-ws",
    ]
    uvicorn = [
        str(venv_bin / "uvicorn"),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--ws",
        "none",
    ]
    target = "benchmarks.candidates:app"
    return {
        "granian 1 worker": [*granian, "--workers", "1", target],
        "granian 2 workers": [*granian, "--workers", "2", target],
        "uvicorn 1 worker": [*uvicorn, "--workers", "1", target],
        "uvicorn 2 workers": [*uvicorn, "--workers", "2", target],
    }


def make_random_file(path: Path, size: int) -> None:
    if path.exists() and path.stat().st_size == size:
        return
    with open(path, "wb") as out:
        for _ in range(size // (16 << 20)):
            out.write(os.urandom(16 << 20))
        out.write(os.urandom(size % (16 << 20)))


def sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(8 << 20):
            hasher.update(block)
    return "sha256:" + hasher.hexdigest()


class AppTarget:
    """The Starlette test app under one server configuration."""

    def __init__(self, server: Server, big: Path) -> None:
        self.server, self.big = server, big

    def small_get_rps(self) -> float:
        return loadtools.wrk_rps(self.server.url + "/small")

    def head_rps(self) -> float:
        return loadtools.hey_rps(self.server.url + "/head")

    def transfer(self, attempt: int) -> tuple[float, float]:
        size = self.big.stat().st_size
        status, seconds = loadtools.curl_upload(self.server.url + "/upload", self.big)
        assert status == 201, status
        up = loadtools.mb_per_s(size, seconds)
        status, got, seconds = loadtools.curl_download(self.server.url + "/file")
        assert status == 200 and got == size, (status, got)
        return up, loadtools.mb_per_s(size, seconds)


class DistributionTarget:
    """Distribution's blob API doing the same work: manifest GET, blob HEAD, blob PUT and GET."""

    def __init__(self, server: Server, big: Path, digest: str) -> None:
        self.server, self.big, self.digest = server, big, digest
        self.manifest, self.layer = blobapi.push_small_image(server.url, "bench/small", "v1")
        self.script = loadtools.wrk_lua_script(
            server.log_path.parent / "accept.lua", {"Accept": blobapi.MANIFEST_ACCEPT}
        )

    def small_get_rps(self) -> float:
        return loadtools.wrk_rps(f"{self.server.url}/v2/bench/small/manifests/v1", script=self.script)

    def head_rps(self) -> float:
        return loadtools.hey_rps(f"{self.server.url}/v2/bench/small/blobs/{self.layer}")

    def transfer(self, attempt: int) -> tuple[float, float]:
        repo = f"bench/big{attempt}"
        size = self.big.stat().st_size
        up = loadtools.mb_per_s(size, blobapi.upload_file(self.server.url, repo, self.big, self.digest))
        down = loadtools.mb_per_s(size, blobapi.download_blob(self.server.url, repo, self.digest, size))
        # Delete the blob's data so that the next round's PUT stores it again.
        data = self.server.log_path.parent / "distribution-data" / "docker" / "registry" / "v2" / "blobs"
        shutil.rmtree(data / "sha256" / self.digest[7:9], ignore_errors=True)
        return up, down


def measure(targets: dict[str, AppTarget | DistributionTarget], rounds: int) -> dict[str, dict[str, float]]:
    """Interleave the targets round by round (A B C A B C) so drift hits all of them alike."""
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in targets}
    peaks = dict.fromkeys(targets, 0)
    for attempt in range(rounds):
        for name, target in targets.items():
            values = samples[name]
            values.setdefault("GET small rps", []).append(target.small_get_rps())
            values.setdefault("HEAD rps", []).append(target.head_rps())
            with PeakRssSampler(target.server.process.pid) as sampler:
                up, down = target.transfer(attempt)
            peaks[name] = max(peaks[name], sampler.peak)
            values.setdefault("upload MB/s", []).append(up)
            values.setdefault("download MB/s", []).append(down)
            print(
                f"round {attempt + 1} {name}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in values.items()), flush=True
            )
    return {
        name: {key: statistics.median(v) for key, v in values.items()} | {"peak RSS MB": peaks[name] / loadtools.MB}
        for name, values in samples.items()
    }


@contextlib.contextmanager
def app_server(name: str, command: list[str], port: int, work: Path) -> Iterator[Server]:
    env = {**os.environ, DATA_DIR_ENV: str(work), "PYTHONPATH": str(REPO_ROOT)}
    with running(
        name,
        command,
        f"http://127.0.0.1:{port}",
        work / f"{name.replace(' ', '-')}.log",
        probe_path="/small",
        env=env,
        cwd=REPO_ROOT,
    ) as server:
        yield server


def print_table(rows: dict[str, dict[str, float]]) -> None:
    columns = ["GET small rps", "HEAD rps", "upload MB/s", "download MB/s", "peak RSS MB"]
    print("| server | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, values in rows.items():
        cells = [f"{values[c]:.0f}" if c in values else "-" for c in columns]
        print(f"| {name} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians are reported)")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--only", help="substring of the configurations to run")
    args = parser.parse_args(argv)

    work = REPO_ROOT / ".benchmarks-work" / "candidates"
    work.mkdir(parents=True, exist_ok=True)
    big = work / "big.bin"
    make_random_file(big, args.size_mib << 20)
    digest = sha256_file(big)
    with contextlib.ExitStack() as stack:
        targets: dict[str, AppTarget | DistributionTarget] = {}
        for name in server_commands(0):
            if args.only and args.only not in name:
                continue
            port = free_port()
            server = stack.enter_context(app_server(name, server_commands(port)[name], port, work))
            targets[name] = AppTarget(server, big)
        if not args.only or args.only in "distribution":
            dist_work = work / "distribution"
            shutil.rmtree(dist_work, ignore_errors=True)
            server = stack.enter_context(run_distribution(dist_work))
            targets["Distribution 2.8 (manifest GET, blob HEAD/PUT/GET)"] = DistributionTarget(server, big, digest)
        print_table(measure(targets, args.rounds))


if __name__ == "__main__":
    main()
