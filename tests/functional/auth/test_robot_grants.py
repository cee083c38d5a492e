"""A robot's grants can be changed after creation, by its namespace's admins, and stay inside its namespace."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.auth import ADMIN, ADMIN_PASSWORD, api, claims_of, create_user, token_for
from tests.support.server import RunningRegistry


def _robot(server: RunningRegistry, owner: tuple[str, str], scopes: list[str]) -> dict[str, Any]:
    with api(server, owner) as client:
        body = {"name": "ci", "scopes": scopes, "repositories": [f"{owner[0]}/app"]}
        response = client.post(f"/namespaces/{owner[0]}/robots", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _actions(server: RunningRegistry, credentials: tuple[str, str], repository: str) -> list[str]:
    token = token_for(server.url, credentials, f"repository:{repository}:pull,push,delete")
    return sorted(action for entry in claims_of(token)["access"] for action in entry["actions"])


@pytest.fixture
def owner(secured: RunningRegistry) -> tuple[str, str]:
    return create_user(secured)


def test_a_namespace_admin_replaces_a_robots_grants_and_its_secret_keeps_working(
    secured: RunningRegistry, owner: tuple[str, str]
) -> None:
    robot = _robot(secured, owner, ["pull"])
    login = (robot["username"], robot["secret"])
    assert _actions(secured, login, f"{owner[0]}/app") == ["pull"]
    with api(secured, owner) as client:
        response = client.put(
            f"/namespaces/{owner[0]}/robots/ci/grants", json={"scopes": ["push"], "repositories": [f"{owner[0]}/app"]}
        )
    assert response.status_code == 200, response.text
    assert response.json()["username"] == robot["username"]
    assert response.json()["grants"] == [{"repository_pattern": f"{owner[0]}/app", "actions": ["pull", "push"]}]
    assert _actions(secured, login, f"{owner[0]}/app") == ["pull", "push"]
    with api(secured, owner) as client:  # no repositories: the whole namespace
        whole = client.put(f"/namespaces/{owner[0]}/robots/ci/grants", json={"scopes": ["pull"], "repositories": []})
    assert whole.json()["grants"] == [{"repository_pattern": f"{owner[0]}/*", "actions": ["pull"]}]


def test_a_robots_grants_cannot_leave_its_namespace(secured: RunningRegistry, owner: tuple[str, str]) -> None:
    _robot(secured, owner, ["pull"])
    with api(secured) as admin:
        for patterns in ([f"{ADMIN}/*"], ["*"], [f"{owner[0]}x/app"]):
            body = {"scopes": ["push"], "repositories": [f"{owner[0]}/app", *patterns]}
            response = admin.put(f"/namespaces/{owner[0]}/robots/ci/grants", json=body)
            if patterns == ["*"]:
                assert response.status_code == 200  # `*` means the whole namespace, as at creation
            else:
                assert response.status_code == 400, response.text
                assert response.headers["content-type"].startswith("application/problem+json")


def test_only_the_namespace_admin_with_full_rights_changes_a_robots_grants(
    secured: RunningRegistry, owner: tuple[str, str]
) -> None:
    robot = _robot(secured, owner, ["pull"])
    stranger = create_user(secured)
    body = {"scopes": ["admin"], "repositories": [f"{owner[0]}/*"]}
    with api(secured, stranger) as client:
        assert client.put(f"/namespaces/{owner[0]}/robots/ci/grants", json=body).status_code == 403
    with api(secured, owner) as client:
        pull = client.post(f"/users/{owner[0]}/tokens", json={"name": "ro", "scopes": ["pull"]}).json()["token"]
    with api(secured, (owner[0], pull)) as client:
        assert client.put(f"/namespaces/{owner[0]}/robots/ci/grants", json=body).status_code == 403
    with api(secured, (robot["username"], robot["secret"])) as client:  # nor the robot itself
        assert client.put(f"/namespaces/{owner[0]}/robots/ci/grants", json=body).status_code == 403
    assert _actions(secured, (robot["username"], robot["secret"]), f"{owner[0]}/app") == ["pull"]


def test_a_login_password_made_from_a_robot_narrows_when_its_grants_do(
    secured: RunningRegistry, owner: tuple[str, str]
) -> None:
    robot = _robot(secured, owner, ["push"])
    with api(secured, (robot["username"], robot["secret"])) as client:
        login = (robot["username"], client.post("/login-password").json()["password"])
    assert _actions(secured, login, f"{owner[0]}/app") == ["pull", "push"]
    with api(secured, owner) as client:
        body = {"scopes": ["pull"], "repositories": [f"{owner[0]}/app"]}
        assert client.put(f"/namespaces/{owner[0]}/robots/ci/grants", json=body).status_code == 200
    assert _actions(secured, login, f"{owner[0]}/app") == ["pull"]


def test_the_grants_api_takes_a_robot_subject(secured: RunningRegistry, owner: tuple[str, str]) -> None:
    robot = _robot(secured, owner, ["pull"])
    login = (robot["username"], robot["secret"])
    body = {
        "subject_kind": "robot",
        "subject": robot["username"],
        "repository_pattern": f"{owner[0]}/api",
        "role": "write",
    }
    with api(secured, owner) as client:
        response = client.put("/grants", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["subject"] == robot["username"]
        assert response.json()["role"] == "write"
    assert _actions(secured, login, f"{owner[0]}/api") == ["pull", "push"]
    assert _actions(secured, login, f"{owner[0]}/app") == ["pull"]  # its other grant is untouched
    params = {"subject_kind": "robot", "subject": robot["username"], "repository_pattern": f"{owner[0]}/api"}
    with api(secured, owner) as client:
        assert client.delete("/grants", params=params).status_code == 204
        assert client.delete("/grants", params=params).status_code == 404
    assert _actions(secured, login, f"{owner[0]}/api") == []
    with api(secured, (ADMIN, ADMIN_PASSWORD)) as admin:  # never outside its namespace, even for an admin
        outside = admin.put("/grants", json={**body, "repository_pattern": f"{ADMIN}/api"})
        assert outside.status_code == 400, outside.text
        malformed = admin.put("/grants", json={**body, "subject": "no-separator"})
        assert malformed.status_code == 400, malformed.text
    stranger = create_user(secured)
    with api(secured, stranger) as client:
        assert client.put("/grants", json={**body, "repository_pattern": f"{stranger[0]}/app"}).status_code == 403
