"""An upload refused for lack of credentials is answered, even to a client that sends its whole body first."""

from __future__ import annotations

import os

from tests.functional.helpers import MiB
from tests.functional.test_early_refusals import codes, send_whole_body_then_read
from tests.support.auth import unique_name
from tests.support.server import RunningRegistry


def test_an_anonymous_monolithic_upload_is_answered_401_to_a_client_that_sends_it_whole(
    secured: RunningRegistry,
) -> None:
    path = f"/v2/{unique_name('r')}/blobs/uploads/?digest=sha256:{'0' * 64}"
    status, document = send_whole_body_then_read(
        secured, "POST", path, os.urandom(6 * MiB), {"Content-Type": "application/octet-stream"}
    )
    assert status == 401 and codes(document) == ["UNAUTHORIZED"]


def test_an_anonymous_chunk_is_answered_401_to_a_client_that_sends_it_whole(secured: RunningRegistry) -> None:
    path = f"/v2/{unique_name('r')}/blobs/uploads/00000000-0000-4000-8000-000000000000"
    status, document = send_whole_body_then_read(
        secured, "PATCH", path, os.urandom(6 * MiB), {"Content-Type": "application/octet-stream"}
    )
    assert status == 401 and codes(document) == ["UNAUTHORIZED"]
