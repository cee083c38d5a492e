"""A request refused before its body was read still gets its answer, even from a client that sends first.

Python's http.client (like many HTTP/1.1 libraries) sends the whole body before it reads anything.
A server that answers early and closes the connection with the body unread makes the kernel reset
it, and such a client sees "connection reset" instead of the error.
"""

from __future__ import annotations

import http.client
import json
import os
from urllib.parse import urlsplit

import httpx

from tests.functional.helpers import OCI_MANIFEST, MiB, start_upload
from tests.support.server import RunningRegistry


def send_whole_body_then_read(
    server: RunningRegistry, method: str, path: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, object]]:
    """Send the request with its whole body, then read the answer: its status and JSON body."""
    connection = http.client.HTTPConnection(server.host, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def codes(document: dict[str, object]) -> list[str]:
    return [error["code"] for error in document.get("errors", [])]  # type: ignore[attr-defined,index]


def test_a_manifest_over_the_size_limit_is_answered_413_to_a_client_that_sends_it_whole(
    registry: RunningRegistry, repo: str
) -> None:
    body = b'{"schemaVersion":2,"padding":"' + b"x" * (4 * MiB + 1) + b'"}'
    status, document = send_whole_body_then_read(
        registry, "PUT", f"/v2/{repo}/manifests/v1", body, {"Content-Type": OCI_MANIFEST}
    )
    assert status == 413 and codes(document) == ["MANIFEST_INVALID"]


def test_a_chunk_for_an_unknown_upload_is_answered_404_to_a_client_that_sends_it_whole(
    registry: RunningRegistry, repo: str
) -> None:
    path = f"/v2/{repo}/blobs/uploads/00000000-0000-4000-8000-000000000000"
    status, document = send_whole_body_then_read(
        registry, "PATCH", path, os.urandom(6 * MiB), {"Content-Type": "application/octet-stream"}
    )
    assert status == 404 and codes(document) == ["BLOB_UPLOAD_UNKNOWN"]


def test_a_chunk_out_of_order_is_answered_416_to_a_client_that_sends_it_whole(
    registry: RunningRegistry, http: httpx.Client, repo: str
) -> None:
    location = urlsplit(start_upload(http, repo))
    path = f"{location.path}?{location.query}" if location.query else location.path
    status, document = send_whole_body_then_read(
        registry,
        "PATCH",
        path,
        os.urandom(6 * MiB),
        {"Content-Type": "application/octet-stream", "Content-Range": f"5-{5 + 6 * MiB - 1}"},
    )
    assert status == 416 and codes(document) == ["BLOB_UPLOAD_INVALID"]
