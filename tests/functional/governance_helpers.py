"""Calls to the management API used by the governance tests (everything over HTTP, as the CLI does)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

API = "/api/v1"
T = TypeVar("T")


def unique_namespace(prefix: str = "gov") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def create_repository(http: httpx.Client, name: str, **settings: Any) -> dict[str, Any]:
    response = http.post(f"{API}/repositories", json={"name": name, **settings})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def describe_repository(http: httpx.Client, name: str) -> httpx.Response:
    return http.get(f"{API}/repositories/{name}")


def put_template(http: httpx.Client, prefix: str, **settings: Any) -> dict[str, Any]:
    response = http.put(f"{API}/creation-templates/{prefix}", json=settings)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def images(http: httpx.Client, name: str, **params: Any) -> dict[str, Any]:
    response = http.get(f"{API}/repositories/{name}/-/images", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def tag_history(http: httpx.Client, name: str, tag: str, **params: Any) -> list[dict[str, Any]]:
    response = http.get(f"{API}/repositories/{name}/-/tags/{tag}/history", params=params)
    assert response.status_code == 200, response.text
    return response.json()["events"]  # type: ignore[no-any-return]


def audit(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = http.get(f"{API}/audit", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return response.json()["entries"]  # type: ignore[no-any-return]


def usage(http: httpx.Client, name: str, namespace: bool = False) -> dict[str, Any]:
    path = f"{API}/namespaces/{name}/usage" if namespace else f"{API}/repositories/{name}/-/usage"
    response = http.get(path)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem details body with the status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status and body["title"]
    return body  # type: ignore[no-any-return]


def eventually(check: Callable[[], T | None], timeout: float = 15.0) -> T:
    """Poll until `check` returns something truthy (for state written in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.1)
