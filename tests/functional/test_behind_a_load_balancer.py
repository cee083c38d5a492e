"""Behind a load balancer: each client is known by the address the balancer reports, and blob
redirects to the object store can be turned off for some client networks and some routes.

One server, with authentication on, blobs in S3 with redirects, and `trusted_proxies` naming
127.0.0.1 (the balancer). Clients that connect from 127.0.0.2 are not the balancer: what they put in
`X-Forwarded-For` is ignored, so nobody escapes the per-address login limit by inventing addresses.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.functional.helpers import assert_error, push_blob, random_bytes
from tests.support.auth import ADMIN, ADMIN_PASSWORD, SERVICE, token_for
from tests.support.object_store import ObjectStoreServer
from tests.support.server import RunningRegistry, start_server

EXCLUDED_NETWORK_CLIENT = "198.51.100.7"
FAILURES_PER_ADDRESS = 3


@pytest.fixture(scope="module")
def balanced(tmp_path_factory: pytest.TempPathFactory, s3_server: ObjectStoreServer) -> Iterator[RunningRegistry]:
    settings = {
        **s3_server.registry_settings(s3_server.new_bucket()),
        "auth_enabled": "true",
        "admin_username": ADMIN,
        "admin_password": ADMIN_PASSWORD,
        "login_failures_per_address": str(FAILURES_PER_ADDRESS),
        "login_failures_per_user": "1000",
        "trusted_proxies": '["127.0.0.1"]',
        "s3_redirect_seconds": "300",
        "s3_redirect_exclude_networks": '["198.51.100.0/24"]',
        "s3_redirect_exclude_hosts": '["localhost"]',
    }
    with start_server(tmp_path_factory.mktemp("balanced"), **settings) as server:
        yield server


def login(server: RunningRegistry, password: str, forwarded_for: str, source: str = "127.0.0.1") -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=30) as client:
        return client.get(
            f"{server.url}/token",
            params={"service": SERVICE},
            auth=(ADMIN, password),
            headers={"X-Forwarded-For": forwarded_for},
        )


def test_each_client_behind_the_balancer_has_its_own_login_limit(balanced: RunningRegistry) -> None:
    for attempt in range(FAILURES_PER_ADDRESS):
        assert_error(login(balanced, f"guess-{attempt}", "203.0.113.5"), 401, "UNAUTHORIZED")
    assert_error(login(balanced, ADMIN_PASSWORD, "203.0.113.5"), 429, "TOOMANYREQUESTS")
    # The guesser is limited, not everyone who comes through the same balancer.
    assert login(balanced, ADMIN_PASSWORD, "203.0.113.6").status_code == 200


def test_a_client_that_is_not_the_balancer_cannot_choose_its_address(balanced: RunningRegistry) -> None:
    for attempt in range(FAILURES_PER_ADDRESS):
        response = login(balanced, f"guess-{attempt}", f"192.0.2.{attempt}", source="127.0.0.2")
        assert_error(response, 401, "UNAUTHORIZED")
    assert_error(login(balanced, ADMIN_PASSWORD, "192.0.2.99", source="127.0.0.2"), 429, "TOOMANYREQUESTS")


@pytest.fixture(scope="module")
def stored_blob(balanced: RunningRegistry) -> Iterator[tuple[str, bytes]]:
    token = token_for(balanced.url, (ADMIN, ADMIN_PASSWORD), "repository:lb/blobs:pull,push")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=balanced.url, headers=headers, timeout=60) as client:
        blob = push_blob(client, "lb/blobs", random_bytes(300_000))
    yield f"{balanced.url}/v2/lb/blobs/blobs/{blob.digest}", blob.data


def blob_get(balanced: RunningRegistry, url: str, **headers: str) -> httpx.Response:
    token = token_for(balanced.url, (ADMIN, ADMIN_PASSWORD), "repository:lb/blobs:pull")
    return httpx.get(url, headers={"Authorization": f"Bearer {token}", **headers}, timeout=60)


def test_blob_reads_are_redirected_to_the_object_store(
    balanced: RunningRegistry, stored_blob: tuple[str, bytes]
) -> None:
    url, data = stored_blob
    for headers in ({}, {"X-Forwarded-For": "203.0.113.9"}):
        response = blob_get(balanced, url, **headers)
        assert response.status_code == 307, response.text
        assert httpx.get(response.headers["location"], timeout=60).content == data


@pytest.mark.parametrize(
    "headers",
    [{"X-Forwarded-For": EXCLUDED_NETWORK_CLIENT}, {"Host": "localhost"}],
    ids=["excluded-client-network", "excluded-route"],
)
def test_excluded_clients_and_routes_get_the_bytes_from_the_node(
    balanced: RunningRegistry, stored_blob: tuple[str, bytes], headers: dict[str, str]
) -> None:
    url, data = stored_blob
    if "Host" in headers:
        headers = {"Host": f"localhost:{balanced.port}"}
    whole = blob_get(balanced, url, **headers)
    assert whole.status_code == 200 and whole.content == data
    part = blob_get(balanced, url, Range="bytes=1000-1999", **headers)
    assert part.status_code == 206 and part.content == data[1000:2000]
