"""A credential acts on /api/v1 only within its own scopes, whoever owns it.

Every state-changing operation of the OpenAPI document is tried with pull-only credentials (a
registry admin's access token, a user's token, a robot, a login password made from a token): none
may change anything, except the few operations listed in `ALLOWED_WITH_PULL` (and why).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.functional.helpers import push_image
from tests.support.auth import (
    ADMIN,
    ADMIN_PASSWORD,
    api,
    claims_of,
    client_for,
    create_user,
    token_for,
    unique_name,
)
from tests.support.server import RunningRegistry

ALLOWED_WITH_PULL = {
    # Evaluates a lifecycle policy without changing anything: a read, needs pull.
    ("POST", "/repositories/{name}/lifecycle-preview"),
    # Issues a login password carrying exactly the caller's own scopes and no longer than asked: no widening.
    ("POST", "/login-password"),
    # Authenticates with the OIDC ID token in its body, not with the caller's credential.
    ("POST", "/oidc/exchange"),
    # Judges an image against the scan gate without changing anything (`moorage gate`): a read, needs pull.
    ("POST", "/repositories/{name}/-/scan-gate/check"),
    # Kubernetes' admission review: judges the images of a Pod, a read of each image (needs pull on it).
    ("POST", "/admission/scan-gate"),
}

HIDDEN_FROM_NON_ADMINS = "/webhooks/{subscription_id}"
"""Subscriptions answer 404 to anyone who may not administer them, so that their existence is not revealed
(docs/webhooks.md); the test checks the subscription is still there, unchanged, afterwards."""

STATE_CHANGING = ("post", "put", "patch", "delete")

BODIES = {("POST", "/repositories/{name}/-/images/batch-delete"): {"image_ids": [{"tag": "1"}]}}
"""Bodies the schema alone does not make valid (checked in the handler before the service asks for rights)."""


@dataclass(frozen=True)
class Setting:
    """Existing objects to name in paths, so a refusal is about rights, not about a missing object."""

    namespace: str
    repository: str
    user: str
    token_id: str
    credentials: tuple[str, str]
    subscription_id: str = "1"


def _token(
    server: RunningRegistry, owner: tuple[str, str], scopes: list[str], repositories: list[str]
) -> dict[str, Any]:
    with api(server, owner) as client:
        body = {"name": unique_name("t"), "scopes": scopes, "repositories": repositories}
        response = client.post(f"/users/{owner[0]}/tokens", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _login_password(server: RunningRegistry, credentials: tuple[str, str]) -> tuple[str, str]:
    with api(server, credentials) as client:
        response = client.post("/login-password")
    assert response.status_code == 200, response.text
    return credentials[0], str(response.json()["password"])


def _setting(server: RunningRegistry, who: str) -> Setting:
    """A namespace with an image, a team, a robot and a template, and a pull-only credential of `who`."""
    admin = (ADMIN, ADMIN_PASSWORD)
    if who == "user":
        owner = create_user(server)
        namespace = owner[0]
    else:
        owner = admin
        namespace = unique_name("scoped")
        with api(server) as client:
            assert client.post("/orgs", json={"name": namespace}).status_code == 201
            assert client.post(f"/orgs/{namespace}/teams", json={"name": "t"}).status_code == 201
    repository = f"{namespace}/app"
    with client_for(server, owner) as registry:
        push_image(registry, repository, tag="1")
    with api(server, admin) as client:
        body = {"name": "ci", "scopes": ["pull"], "repositories": [f"{namespace}/*"]}
        robot = client.post(f"/namespaces/{namespace}/robots", json=body)
        assert robot.status_code == 201, robot.text
        template = client.put(f"/creation-templates/{namespace}", json={"create_on_push": True})
        assert template.status_code in (200, 201, 204), template.text
        target = {"scope_kind": "namespace", "scope": namespace, "url": "https://93.184.215.14/hook"}
        subscription = client.post("/webhooks", json=target)
        assert subscription.status_code == 201, subscription.text
    victim = _token(server, owner, ["admin"], ["*"])
    pull = _token(server, owner, ["pull"], ["*"])
    credentials = {
        "admin-token": (owner[0], pull["token"]),
        "user-token": (owner[0], pull["token"]),
        "robot": (robot.json()["username"], robot.json()["secret"]),
        "login-password": (owner[0], pull["token"]),
    }[who]
    if who == "login-password":
        credentials = _login_password(server, credentials)
    return Setting(namespace, repository, owner[0], victim["id"], credentials, str(subscription.json()["id"]))


def _path(template: str, setting: Setting) -> str:
    values = {
        "namespace": setting.namespace,
        "org": setting.namespace,
        "team": "t",
        "user": setting.user,
        "token_id": setting.token_id,
        "prefix": setting.namespace,
        "rule": "r",
        "run_id": "1",
        "tag": "1",
        "reference": "1",
        "kid": "x",
        "subscription_id": setting.subscription_id,
        "delivery_id": "1",
    }
    if template.startswith("/repositories/{name}"):
        values["name"] = setting.repository
    elif template.startswith("/namespaces/{name}"):
        values["name"] = setting.namespace
    elif template.startswith("/users/{name}"):
        values["name"] = setting.user
    elif template.startswith("/namespaces/{namespace}/robots/{name}"):
        values["name"] = "ci"
    else:
        values["name"] = "x"
    return re.sub(r"\{(\w+)(?::path)?\}", lambda m: values[m.group(1)], template)


def _example(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A small value matching a JSON schema, so a request is refused for its rights, not its shape."""
    if "$ref" in schema:
        return _example(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return _example(options[0], components) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {name: _example(properties[name], components) for name in schema.get("required", [])}
    if kind == "array":
        return [_example(schema.get("items", {}), components)]
    return {"string": "x", "integer": 1, "number": 1, "boolean": False}.get(str(kind), "x")


def _operations(server: RunningRegistry) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    spec = httpx.get(f"{server.url}/api/v1/openapi.json", timeout=30).json()
    components = spec.get("components", {}).get("schemas", {})
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method in STATE_CHANGING:
                yield method.upper(), path.removeprefix("/api/v1"), operation, components


@pytest.mark.parametrize("who", ["admin-token", "user-token", "robot", "login-password"])
def test_a_pull_only_credential_changes_nothing_through_the_management_api(secured: RunningRegistry, who: str) -> None:
    setting = _setting(secured, who)
    accepted = []
    with api(secured, setting.credentials) as client:
        for method, template, operation, components in _operations(secured):
            if (method, template) in ALLOWED_WITH_PULL:
                continue
            params = {
                p["name"]: _example(p.get("schema", {}), components)
                for p in operation.get("parameters", [])
                if p["in"] == "query" and p.get("required")
            }
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            json = _example(body, components) if body is not None else None
            json = BODIES.get((method, template), json)
            response = client.request(method, _path(template, setting), params=params, json=json)
            refused = (403, 404) if template.startswith(HIDDEN_FROM_NON_ADMINS) else (403,)
            if response.status_code not in refused:
                accepted.append(f"{method} {template} -> {response.status_code} {response.text[:200]}")
    assert accepted == [], "\n".join(accepted)
    with api(secured) as admin:  # and the other token is still there
        listed = admin.get(f"/users/{setting.user}/tokens").json() if who != "robot" else []
    if who != "robot":
        assert setting.token_id in [t["id"] for t in listed if t["revoked_at"] is None]
    with api(secured) as admin:  # and the subscription too, with its target
        subscription = admin.get(f"/webhooks/{setting.subscription_id}")
        assert subscription.status_code == 200 and subscription.json()["url"] == "https://93.184.215.14/hook"


def test_a_pull_only_token_cannot_revoke_its_owners_other_tokens(secured: RunningRegistry) -> None:
    owner = create_user(secured)
    other = _token(secured, owner, ["push"], [f"{owner[0]}/*"])
    pull = _token(secured, owner, ["pull"], ["*"])
    with api(secured, (owner[0], pull["token"])) as client:
        response = client.delete(f"/users/{owner[0]}/tokens/{other['id']}")
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert client.get(f"/users/{owner[0]}/tokens").status_code == 403
    token_for(secured.url, (owner[0], other["token"]), f"repository:{owner[0]}/app:push")


def test_a_registry_admins_pull_only_token_cannot_create_an_organisation(secured: RunningRegistry) -> None:
    pull = _token(secured, (ADMIN, ADMIN_PASSWORD), ["pull"], ["*"])
    with api(secured, (ADMIN, pull["token"])) as client:
        response = client.post("/orgs", json={"name": unique_name("grab")})
        assert response.status_code == 403, response.text
        assert client.get("/user").json()["admin"] is False


def test_a_registry_admins_token_with_admin_on_everything_is_a_registry_admin(secured: RunningRegistry) -> None:
    full = _token(secured, (ADMIN, ADMIN_PASSWORD), ["admin"], ["*"])
    with api(secured, (ADMIN, full["token"])) as client:
        assert client.get("/user").json()["admin"] is True
        assert client.get("/users").status_code == 200
    user = create_user(secured)
    everything = _token(secured, user, ["admin"], ["*"])
    with api(secured, (user[0], everything["token"])) as client:  # but a user's is no more than the user
        assert client.get("/user").json()["admin"] is False
        assert client.get("/users").status_code == 403


def test_a_token_with_admin_scope_manages_its_owners_tokens(secured: RunningRegistry) -> None:
    owner = create_user(secured)
    other = _token(secured, owner, ["pull"], ["*"])
    manager = _token(secured, owner, ["admin"], ["*"])
    with api(secured, (owner[0], manager["token"])) as client:
        assert other["id"] in [t["id"] for t in client.get(f"/users/{owner[0]}/tokens").json()]
        assert client.delete(f"/users/{owner[0]}/tokens/{other['id']}").status_code == 204


def test_a_token_with_admin_scope_on_one_namespace_does_not_manage_its_owners_tokens(
    secured: RunningRegistry,
) -> None:
    owner = create_user(secured)
    other = _token(secured, owner, ["pull"], ["*"])
    narrow = _token(secured, owner, ["admin"], [f"{owner[0]}/*"])
    with api(secured, (owner[0], narrow["token"])) as client:
        assert client.delete(f"/users/{owner[0]}/tokens/{other['id']}").status_code == 403
        body = {"subject_kind": "anonymous", "repository_pattern": f"{owner[0]}/public", "role": "read"}
        assert client.put("/grants", json=body).status_code == 200  # but it administers its namespace


def test_a_login_password_made_from_a_pull_token_is_no_wider(secured: RunningRegistry) -> None:
    owner = create_user(secured)
    pull = _token(secured, owner, ["pull"], [f"{owner[0]}/*"])
    login = _login_password(secured, (owner[0], pull["token"]))
    with api(secured, login) as client:
        me = client.get("/user").json()
        assert me["scopes"] == [{"repository_pattern": f"{owner[0]}/*", "actions": ["pull"]}]
        assert client.post(f"/users/{owner[0]}/tokens", json={"name": "n", "scopes": ["admin"]}).status_code == 403
        assert client.post("/login-password").status_code == 200
    token = token_for(secured.url, login, f"repository:{owner[0]}/app:pull,push")
    assert claims_of(token)["access"] == [{"type": "repository", "name": f"{owner[0]}/app", "actions": ["pull"]}]


def test_who_am_i_names_the_credentials_scopes_and_expiry(secured: RunningRegistry) -> None:
    owner = create_user(secured)
    token = _token(secured, owner, ["push"], [f"{owner[0]}/app"])
    with api(secured, (owner[0], token["token"])) as client:
        me = client.get("/user").json()
    assert me["scopes"] == [{"repository_pattern": f"{owner[0]}/app", "actions": ["pull", "push"]}]
    assert me["expires_at"] is not None and me["expires_at"][:16] == token["expires_at"][:16]
    with api(secured, owner) as client:
        me = client.get("/user").json()
    assert me["scopes"] is None and me["expires_at"] is None
    with api(secured, (owner[0], token["token"])) as client:
        login = client.post("/login-password").json()
    with api(secured, (owner[0], login["password"])) as client:
        me = client.get("/user").json()
    assert me["scopes"] == [{"repository_pattern": f"{owner[0]}/app", "actions": ["pull", "push"]}]
    assert me["expires_at"][:16] == login["expires_at"][:16]
