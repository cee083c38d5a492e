"""Revocation that works: ending a user's sessions, and saying why a derived credential stopped working.

A login password (`moorage login-password`) or a refresh token (`docker login`) is a signed JWT:
no row to delete. Each carries its user's credential generation; changing the password,
disabling the user or `POST /api/v1/users/{name}/revoke-sessions` bumps it, and every such
credential issued before stops at once, with a message saying so rather than "invalid username or
password".
"""

from __future__ import annotations

import time

import httpx

from tests.support.auth import api, create_user, fetch_token
from tests.support.server import RunningRegistry


def _login_password(server: RunningRegistry, credentials: tuple[str, str]) -> str:
    with api(server, credentials) as client:
        response = client.post("/login-password")
        assert response.status_code == 200, response.text
        return str(response.json()["password"])


def _refresh_token(server: RunningRegistry, credentials: tuple[str, str]) -> str:
    response = fetch_token(server.url, credentials, offline_token="true")
    assert response.status_code == 200, response.text
    return str(response.json()["refresh_token"])


def _refresh(server: RunningRegistry, refresh_token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "service": "moorage"}
    return httpx.post(f"{server.url}/token", data=form, timeout=30)


def _message(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["message"])


def _assert_revoked(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    message = _message(response)
    assert "revoked" in message, message
    assert "invalid username or password" not in message


def test_changing_the_password_ends_outstanding_login_passwords_and_refresh_tokens(secured: RunningRegistry) -> None:
    user, password = create_user(secured)
    login_password = _login_password(secured, (user, password))
    refresh_token = _refresh_token(secured, (user, password))
    assert fetch_token(secured.url, (user, login_password)).status_code == 200

    with api(secured, (user, password)) as client:
        response = client.patch(f"/users/{user}", json={"password": "a-new-password-1"})
        assert response.status_code == 200, response.text

    _assert_revoked(fetch_token(secured.url, (user, login_password)))
    _assert_revoked(_refresh(secured, refresh_token))
    with api(secured, (user, login_password)) as client:
        refused = client.get("/user")
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]
    # The new password works, and so does a login password made from it.
    fresh = _login_password(secured, (user, "a-new-password-1"))
    assert fetch_token(secured.url, (user, fresh)).status_code == 200


def test_re_enabling_a_disabled_user_does_not_revive_their_login_passwords(secured: RunningRegistry) -> None:
    user, password = create_user(secured)
    login_password = _login_password(secured, (user, password))
    refresh_token = _refresh_token(secured, (user, password))
    with api(secured) as admin:
        assert admin.patch(f"/users/{user}", json={"disabled": True}).status_code == 200
        assert admin.patch(f"/users/{user}", json={"disabled": False}).status_code == 200

    _assert_revoked(fetch_token(secured.url, (user, login_password)))
    _assert_revoked(_refresh(secured, refresh_token))
    assert fetch_token(secured.url, (user, password)).status_code == 200


def test_a_user_ends_their_own_sessions_with_their_password(secured: RunningRegistry) -> None:
    user, password = create_user(secured)
    stolen = _login_password(secured, (user, password))
    stolen_refresh = _refresh_token(secured, (user, password))

    with api(secured, (user, password)) as client:
        response = client.post(f"/users/{user}/revoke-sessions")
    assert response.status_code == 204, response.text

    _assert_revoked(fetch_token(secured.url, (user, stolen)))
    _assert_revoked(_refresh(secured, stolen_refresh))
    assert fetch_token(secured.url, (user, password)).status_code == 200
    fresh = _login_password(secured, (user, password))
    assert fetch_token(secured.url, (user, fresh)).status_code == 200


def test_an_admin_ends_a_users_sessions_and_it_is_audited(secured: RunningRegistry) -> None:
    user, password = create_user(secured)
    login_password = _login_password(secured, (user, password))
    with api(secured) as admin:
        assert admin.post(f"/users/{user}/revoke-sessions").status_code == 204
        entries = admin.get("/audit", params={"action": "user.revoke-sessions", "limit": 1000}).json()
    _assert_revoked(fetch_token(secured.url, (user, login_password)))
    assert any(entry.get("target") == user for entry in entries["entries"]), entries


def test_another_user_may_not_end_someone_elses_sessions(secured: RunningRegistry) -> None:
    victim, victim_password = create_user(secured)
    attacker = create_user(secured)
    login_password = _login_password(secured, (victim, victim_password))
    with api(secured, attacker) as client:
        response = client.post(f"/users/{victim}/revoke-sessions")
    assert response.status_code == 403, response.text
    assert fetch_token(secured.url, (victim, login_password)).status_code == 200
    with api(secured, attacker) as client:
        assert client.post("/users/nobody-at-all/revoke-sessions").status_code in (403, 404)


def test_a_login_password_from_a_revoked_access_token_says_the_token_was_revoked(secured: RunningRegistry) -> None:
    user, password = create_user(secured)
    with api(secured, (user, password)) as client:
        created = client.post(f"/users/{user}/tokens", json={"name": "ci", "scopes": ["pull"]}).json()
    login_password = _login_password(secured, (user, created["token"]))
    assert fetch_token(secured.url, (user, login_password)).status_code == 200
    with api(secured, (user, password)) as client:
        assert client.delete(f"/users/{user}/tokens/{created['id']}").status_code == 204

    refused = fetch_token(secured.url, (user, login_password))
    _assert_revoked(refused)
    assert "access token 'ci' this login password was made from was revoked" in _message(refused)
    with api(secured, (user, login_password)) as client:
        detail = client.get("/user").json()["detail"]
    assert "access token 'ci' this login password was made from was revoked" in detail


def test_a_login_password_from_an_expired_access_token_says_when_the_token_expired(secured: RunningRegistry) -> None:
    user, password = create_user(secured)
    body = {"name": "brief", "scopes": ["pull"], "expires_in_days": 2 / 86400}  # two seconds
    with api(secured, (user, password)) as client:
        created = client.post(f"/users/{user}/tokens", json=body).json()
    login_password = _login_password(secured, (user, created["token"]))
    time.sleep(2.5)

    refused = fetch_token(secured.url, (user, login_password))
    assert refused.status_code == 401
    message = _message(refused)
    assert "the access token 'brief' this login password was made from expired at" in message
    assert "invalid username or password" not in message
    with api(secured, (user, login_password)) as client:
        answer = client.get("/user")
    assert answer.status_code == 401
    assert "the access token 'brief' this login password was made from expired at" in answer.json()["detail"]


def test_rotating_a_robot_secret_ends_the_login_passwords_made_from_the_old_one(secured: RunningRegistry) -> None:
    owner = create_user(secured)
    with api(secured, owner) as client:
        robot = client.post(f"/namespaces/{owner[0]}/robots", json={"name": "leaky", "scopes": ["pull"]}).json()
    credentials = (robot["username"], robot["secret"])
    login_password = _login_password(secured, credentials)
    assert fetch_token(secured.url, (robot["username"], login_password)).status_code == 200
    with api(secured, owner) as client:
        rotated = client.post(f"/namespaces/{owner[0]}/robots/leaky/secret").json()["secret"]

    refused = fetch_token(secured.url, (robot["username"], login_password))
    _assert_revoked(refused)
    assert "it was made from was replaced" in _message(refused)
    fresh = _login_password(secured, (robot["username"], rotated))
    assert fetch_token(secured.url, (robot["username"], fresh)).status_code == 200
