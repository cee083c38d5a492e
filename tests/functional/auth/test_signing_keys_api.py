"""Listing and retiring signing keys: a leaked key is cut off at once, on every worker process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from moorage.auth.keys import RELOAD_INTERVAL
from tests.functional.auth.conftest import AUTH_SETTINGS
from tests.support.auth import ADMIN, ADMIN_PASSWORD, api, create_user, fetch_token, token_for
from tests.support.server import RunningRegistry, start_server

SCOPE = "repository:keys/repo:pull"


@pytest.fixture
def registry_with_workers(tmp_path: Path) -> Iterator[RunningRegistry]:
    """A private server (retiring keys would break other tests' tokens) with two worker processes."""
    with start_server(tmp_path / "data", **AUTH_SETTINGS, workers="2") as server:
        yield server


def keys_of(server: RunningRegistry) -> list[dict[str, str]]:
    with api(server) as admin:
        response = admin.get("/system/signing-keys")
    assert response.status_code == 200, response.text
    keys: list[dict[str, str]] = response.json()
    return keys


def pull_status(server: RunningRegistry, token: str) -> int:
    response = httpx.get(f"{server.url}/v2/keys/repo/tags/list", headers={"Authorization": f"Bearer {token}"})
    return response.status_code


def statuses_after_reload(server: RunningRegistry, token: str, requests: int = 12) -> set[int]:
    """What many requests (spread over the workers) answer once every process has reloaded its keys."""
    time.sleep(RELOAD_INTERVAL + 0.5)
    return {pull_status(server, token) for _ in range(requests)}


def test_admins_see_every_key_with_its_state_and_never_its_private_part(
    registry_with_workers: RunningRegistry,
) -> None:
    [first] = keys_of(registry_with_workers)
    assert first["state"] == "signing" and first["algorithm"] == "EdDSA"
    assert set(first) == {"kid", "algorithm", "created_at", "signs_until", "verifies_until", "state"}
    with api(registry_with_workers) as admin:
        rotated = admin.post("/system/signing-keys/rotate").json()["kid"]
    newest, older = keys_of(registry_with_workers)
    assert (newest["kid"], newest["state"]) == (rotated, "signing")
    assert (older["kid"], older["state"]) == (first["kid"], "verifying")


def test_users_who_are_not_registry_admins_can_neither_list_nor_retire_keys(
    registry_with_workers: RunningRegistry,
) -> None:
    user = create_user(registry_with_workers)
    [key] = keys_of(registry_with_workers)
    with api(registry_with_workers, user) as client:
        assert client.get("/system/signing-keys").status_code == 403
        response = client.post(f"/system/signing-keys/{key['kid']}/retire")
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("application/problem+json")
    assert keys_of(registry_with_workers)[0]["state"] == "signing"


def test_a_retired_key_no_longer_verifies_a_token_it_signed_before_on_any_worker(
    registry_with_workers: RunningRegistry,
) -> None:
    token = token_for(registry_with_workers.url, (ADMIN, ADMIN_PASSWORD), SCOPE)
    assert statuses_after_reload(registry_with_workers, token) == {404}  # valid: the repository is unknown
    with api(registry_with_workers) as admin:
        admin.post("/system/signing-keys/rotate")
        assert statuses_after_reload(registry_with_workers, token) == {404}  # rotation alone keeps it valid
        kid = claims_kid(token)
        response = admin.post(f"/system/signing-keys/{kid}/retire")
    assert response.status_code == 200, response.text
    assert response.json()["kid"] == kid and response.json()["state"] == "retired"
    assert statuses_after_reload(registry_with_workers, token) == {401}
    assert {key["kid"]: key["state"] for key in keys_of(registry_with_workers)}[kid] == "retired"


def test_retiring_the_signing_key_first_starts_signing_with_a_new_one(registry_with_workers: RunningRegistry) -> None:
    token = token_for(registry_with_workers.url, (ADMIN, ADMIN_PASSWORD), SCOPE)
    kid = claims_kid(token)
    with api(registry_with_workers) as admin:
        response = admin.post(f"/system/signing-keys/{kid}/retire")
    assert response.status_code == 200, response.text
    newest, retired = keys_of(registry_with_workers)
    assert retired == {**retired, "kid": kid, "state": "retired"}
    assert newest["state"] == "signing" and newest["kid"] != kid
    time.sleep(RELOAD_INTERVAL + 0.5)
    fresh = token_for(registry_with_workers.url, (ADMIN, ADMIN_PASSWORD), SCOPE)
    assert claims_kid(fresh) == newest["kid"]
    assert statuses_after_reload(registry_with_workers, fresh) == {404}
    assert statuses_after_reload(registry_with_workers, token) == {401}


def test_retiring_an_unknown_key_is_a_not_found_problem(registry_with_workers: RunningRegistry) -> None:
    with api(registry_with_workers) as admin:
        response = admin.post("/system/signing-keys/no-such-kid/retire")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_rotations_and_retirements_are_in_the_audit_log(registry_with_workers: RunningRegistry) -> None:
    with api(registry_with_workers) as admin:
        rotated = admin.post("/system/signing-keys/rotate").json()["kid"]
        admin.post(f"/system/signing-keys/{rotated}/retire")
        entries = admin.get("/audit", params={"action": "signing_key."}).json()["entries"]
    assert [(entry["action"], entry["target"], entry["actor"]["name"]) for entry in entries] == [
        ("signing_key.rotate", rotated, ADMIN),
        ("signing_key.retire", rotated, ADMIN),
    ]


def test_a_refresh_token_signed_by_a_retired_key_no_longer_logs_in(registry_with_workers: RunningRegistry) -> None:
    response = fetch_token(registry_with_workers.url, (ADMIN, ADMIN_PASSWORD), SCOPE, offline_token="true")
    refresh = response.json()["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": refresh, "service": "moorage", "scope": SCOPE}
    assert httpx.post(f"{registry_with_workers.url}/token", data=form).status_code == 200
    with api(registry_with_workers) as admin:
        admin.post(f"/system/signing-keys/{claims_kid(refresh)}/retire")
    time.sleep(RELOAD_INTERVAL + 0.5)
    for _ in range(6):
        assert httpx.post(f"{registry_with_workers.url}/token", data=form).status_code == 401


def claims_kid(token: str) -> str:
    kid = jwt.get_unverified_header(token)["kid"]
    assert isinstance(kid, str)
    return kid
