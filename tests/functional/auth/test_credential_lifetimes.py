"""The admin's caps on credential lifetimes hold whatever the client asks for.

Defaults: login passwords at most 12 hours (`login_password_max_hours`), access tokens and robot
secrets at most 365 days (`access_token_max_days`, `robot_secret_max_days`), and no credential
that never expires (`allow_non_expiring_credentials`). A request beyond a cap is refused with a
problem naming the limit and the setting, never silently shortened.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.auth import ADMIN, ADMIN_PASSWORD, api, create_user
from tests.support.server import RunningRegistry, start_server


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """A registry whose admin set shorter caps, and allows credentials that never expire."""
    settings = {
        "auth_enabled": "true",
        "admin_username": ADMIN,
        "admin_password": ADMIN_PASSWORD,
        "login_password_max_hours": "2",
        "access_token_max_days": "30",
        "robot_secret_max_days": "7",
        "allow_non_expiring_credentials": "true",
    }
    with start_server(tmp_path_factory.mktemp("strict-lifetimes"), **settings) as server:
        yield server


def _days_left(expires_at: str) -> float:
    return (datetime.fromisoformat(expires_at) - datetime.now(UTC)) / timedelta(days=1)


def test_a_login_password_longer_than_the_cap_is_refused_naming_the_limit(secured: RunningRegistry) -> None:
    user = create_user(secured)
    with api(secured, user) as client:
        refused = client.post("/login-password", json={"lifetime_hours": 24})
        allowed = client.post("/login-password", json={"lifetime_hours": 12})
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    detail = refused.json()["detail"]
    assert "12 hours" in detail and "login_password_max_hours" in detail
    assert allowed.status_code == 200, allowed.text
    expires = datetime.fromisoformat(allowed.json()["expires_at"])
    assert expires <= datetime.now(UTC) + timedelta(hours=12, minutes=1)


def test_a_never_expiring_access_token_is_refused_by_default(secured: RunningRegistry) -> None:
    user = create_user(secured)
    with api(secured, user) as client:
        forever = {"name": "forever", "scopes": ["pull"], "expires_in_days": None}
        refused = client.post(f"/users/{user[0]}/tokens", json=forever)
        tokens = client.get(f"/users/{user[0]}/tokens").json()
    assert refused.status_code == 400, refused.text
    assert "allow_non_expiring_credentials" in refused.json()["detail"]
    assert tokens == []


def test_an_access_token_longer_than_the_cap_is_refused_naming_the_limit(secured: RunningRegistry) -> None:
    user = create_user(secured)
    with api(secured, user) as client:
        long = {"name": "long", "scopes": ["pull"], "expires_in_days": 400}
        year = {"name": "year", "scopes": ["pull"], "expires_in_days": 365}
        refused = client.post(f"/users/{user[0]}/tokens", json=long)
        allowed = client.post(f"/users/{user[0]}/tokens", json=year)
    assert refused.status_code == 400, refused.text
    detail = refused.json()["detail"]
    assert "365 days" in detail and "access_token_max_days" in detail
    assert allowed.status_code == 201, allowed.text


def test_a_robot_secret_never_expiring_or_longer_than_the_cap_is_refused(secured: RunningRegistry) -> None:
    owner = create_user(secured)
    namespace = owner[0]
    with api(secured, owner) as client:
        forever = client.post(
            f"/namespaces/{namespace}/robots", json={"name": "forever", "scopes": ["pull"], "expires_in_days": None}
        )
        long = client.post(
            f"/namespaces/{namespace}/robots", json={"name": "long", "scopes": ["pull"], "expires_in_days": 1000}
        )
        default = client.post(f"/namespaces/{namespace}/robots", json={"name": "usual", "scopes": ["pull"]})
        robots = [robot["name"] for robot in client.get(f"/namespaces/{namespace}/robots").json()]
    assert forever.status_code == 400, forever.text
    assert "allow_non_expiring_credentials" in forever.json()["detail"]
    assert long.status_code == 400, long.text
    assert "365 days" in long.json()["detail"] and "robot_secret_max_days" in long.json()["detail"]
    assert default.status_code == 201, default.text
    assert robots == ["usual"]


def test_shorter_caps_shorten_the_defaults_and_refuse_longer_requests(strict: RunningRegistry) -> None:
    user = create_user(strict)
    with api(strict, user) as client:
        login = client.post("/login-password")
        too_long_login = client.post("/login-password", json={"lifetime_hours": 3})
        token = client.post(f"/users/{user[0]}/tokens", json={"name": "default", "scopes": ["pull"]})
        too_long_token = client.post(
            f"/users/{user[0]}/tokens", json={"name": "long", "scopes": ["pull"], "expires_in_days": 31}
        )
        robot = client.post(f"/namespaces/{user[0]}/robots", json={"name": "ci", "scopes": ["pull"]})
        forever = client.post(
            f"/users/{user[0]}/tokens", json={"name": "forever", "scopes": ["pull"], "expires_in_days": None}
        )
    assert login.status_code == 200, login.text
    assert 0.08 < _days_left(login.json()["expires_at"]) <= 2 / 24  # the 12-hour default, cut to the 2-hour cap
    assert too_long_login.status_code == 400 and "2 hours" in too_long_login.json()["detail"]
    assert token.status_code == 201 and 29.9 < _days_left(token.json()["expires_at"]) <= 30
    assert too_long_token.status_code == 400 and "30 days" in too_long_token.json()["detail"]
    assert robot.status_code == 201 and 6.9 < _days_left(robot.json()["expires_at"]) <= 7
    assert forever.status_code == 201 and forever.json()["expires_at"] is None
