"""The OpenAPI document says how to authenticate and what errors look like, so generated clients work."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.auth import ADMIN, ADMIN_PASSWORD, api, create_user, token_for
from tests.support.server import RunningRegistry

PUBLIC = {("get", "/api/v1/system/info"), ("post", "/api/v1/oidc/exchange")}
"""Operations that take no credential (the exchange authenticates with the ID token in its body)."""


@pytest.fixture
def spec(secured: RunningRegistry) -> dict[str, Any]:
    response = httpx.get(f"{secured.url}/api/v1/openapi.json", timeout=30)
    assert response.status_code == 200
    return dict(response.json())


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def test_the_document_declares_basic_and_bearer_and_every_authenticated_operation_uses_them(
    spec: dict[str, Any],
) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert {(s["type"], s["scheme"]) for s in schemes.values()} == {("http", "basic"), ("http", "bearer")}
    names = {s["scheme"]: name for name, s in schemes.items()}
    for method, path, operation in _operations(spec):
        if (method, path) in PUBLIC:
            assert not operation.get("security"), (method, path)
        else:
            assert operation.get("security") == [{names["basic"]: []}, {names["bearer"]: []}], (method, path)
            assert {"401", "403"} <= set(operation["responses"]), (method, path)


def test_every_error_response_is_documented_as_problem_details(spec: dict[str, Any]) -> None:
    assert "Problem" in spec["components"]["schemas"]
    for method, path, operation in _operations(spec):
        errors = {status: r for status, r in operation["responses"].items() if status[0] in "45"}
        assert errors, (method, path)
        for status, response in errors.items():
            assert list(response.get("content", {})) == ["application/problem+json"], (method, path, status)


def test_a_bearer_access_token_or_login_password_authenticates_like_basic(secured: RunningRegistry) -> None:
    owner = create_user(secured)
    with api(secured, owner) as client:
        token = client.post(f"/users/{owner[0]}/tokens", json={"name": "b", "scopes": ["pull"]}).json()["token"]
        login = client.post("/login-password").json()["password"]
    for secret, kind in ((token, "token"), (login, "user")):
        response = httpx.get(f"{secured.url}/api/v1/user", headers={"Authorization": f"Bearer {secret}"}, timeout=30)
        assert response.status_code == 200, response.text
        assert (response.json()["name"], response.json()["kind"]) == (owner[0], kind)
    bearer = {"Authorization": f"Bearer {token}"}
    refused = httpx.delete(f"{secured.url}/api/v1/users/{owner[0]}/tokens/x", headers=bearer, timeout=30)
    assert refused.status_code == 403  # a pull-only token stays pull-only, however it is sent


@pytest.mark.parametrize("kind", ["password", "registry-token", "garbage"])
def test_a_bearer_that_names_no_user_is_refused_as_problem_details(secured: RunningRegistry, kind: str) -> None:
    secret = {
        "password": ADMIN_PASSWORD,
        "registry-token": token_for(secured.url, (ADMIN, ADMIN_PASSWORD), f"repository:{ADMIN}/x:pull"),
        "garbage": "moorage_pat_0123456789abcdef_" + "x" * 43,
    }[kind]
    response = httpx.get(f"{secured.url}/api/v1/users", headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].startswith("Basic")
