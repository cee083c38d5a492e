"""Crashes and disconnects never leave a half-written blob visible, and uploads resume.

These tests run their own server (`start_registry`) because they kill it or cut connections.
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path
from urllib.parse import urljoin

import httpx

from tests.conftest import StartRegistry
from tests.functional.helpers import assert_error

MiB = 1024 * 1024


def send_partial_request(host: str, request_head: bytes, body_part: bytes) -> None:
    """Send a request head and only part of its body, then drop the connection."""
    address, port = host.rsplit(":", 1)
    with socket.create_connection((address, int(port)), timeout=10) as connection:
        connection.sendall(request_head + body_part)


def staged_size(client: httpx.Client, location: str) -> int:
    response = client.get(location)
    assert response.status_code == 204, response.text
    return int(response.headers["Range"].split("-")[1]) + 1


def test_a_client_that_disconnects_mid_upload_can_resume_from_the_reported_offset(
    start_registry: StartRegistry,
) -> None:
    server = start_registry()
    data = os.urandom(8 * MiB)
    digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
    with httpx.Client(base_url=server.url, timeout=30) as client:
        location = client.post("/v2/durable/resume/blobs/uploads/").headers["Location"]
        path = urljoin(server.url + "/", location).removeprefix(server.url)
        head = (
            f"PATCH {path} HTTP/1.1\r\nHost: {server.host}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode()
        send_partial_request(server.host, head, data[: 3 * MiB])

        assert client.head(f"/v2/durable/resume/blobs/{digest}").status_code == 404
        offset = staged_size(client, location)
        assert 0 <= offset <= 3 * MiB
        response = client.patch(
            location,
            content=data[offset:],
            headers={"Content-Range": f"{offset}-{len(data) - 1}", "Content-Type": "application/octet-stream"},
        )
        assert response.status_code == 202, response.text
        finished = client.put(response.headers["Location"], params={"digest": digest})
        assert finished.status_code == 201, finished.text
        assert hashlib.sha256(client.get(f"/v2/durable/resume/blobs/{digest}").content).hexdigest() == digest[7:]


def test_a_server_killed_mid_upload_shows_no_blob_and_resumes_after_restart(
    start_registry: StartRegistry, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    server = start_registry(data_dir)
    data = os.urandom(6 * MiB)
    digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
    with httpx.Client(base_url=server.url, timeout=30) as client:
        location = client.post("/v2/durable/crash/blobs/uploads/").headers["Location"]
        first = client.patch(location, content=data[: 2 * MiB], headers={"Content-Range": f"0-{2 * MiB - 1}"})
        assert first.status_code == 202
        path = urljoin(server.url + "/", first.headers["Location"]).removeprefix(server.url)
        head = (
            f"PUT {path}?digest={digest} HTTP/1.1\r\nHost: {server.host}\r\n"
            f"Content-Length: {len(data) - 2 * MiB}\r\n\r\n"
        ).encode()
        send_partial_request(server.host, head, data[2 * MiB : 3 * MiB])
    server.kill()

    restarted = start_registry(data_dir)
    with httpx.Client(base_url=restarted.url, timeout=30) as client:
        assert_error(client.get(f"/v2/durable/crash/blobs/{digest}"), 404, "BLOB_UNKNOWN")
        offset = staged_size(client, location)
        assert 2 * MiB <= offset <= 3 * MiB
        response = client.put(location, params={"digest": digest}, content=data[offset:])
        assert response.status_code == 201, response.text
        assert client.get(f"/v2/durable/crash/blobs/{digest}").content == data


def test_wrong_digest_at_finish_leaves_nothing_visible_and_stored_blobs_untouched(
    start_registry: StartRegistry,
) -> None:
    server = start_registry()
    kept = os.urandom(MiB)
    kept_digest = f"sha256:{hashlib.sha256(kept).hexdigest()}"
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert (
            client.post("/v2/durable/keep/blobs/uploads/", params={"digest": kept_digest}, content=kept).status_code
            == 201
        )
        location = client.post("/v2/durable/keep/blobs/uploads/").headers["Location"]
        response = client.put(location, params={"digest": kept_digest}, content=os.urandom(MiB))
        assert_error(response, 400, "DIGEST_INVALID")
        assert client.get(f"/v2/durable/keep/blobs/{kept_digest}").content == kept
