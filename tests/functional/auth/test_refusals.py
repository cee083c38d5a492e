"""Every forged, stale or misused credential must fail the request (the issue's security list)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.functional.helpers import assert_error, push_image
from tests.support.auth import (
    ADMIN,
    ADMIN_PASSWORD,
    Forger,
    api,
    client_for,
    create_user,
    fetch_token,
    grant,
    token_for,
    unique_name,
)
from tests.support.server import RunningRegistry


@pytest.fixture
def forger(secured: RunningRegistry) -> Forger:
    token_for(secured.url, (ADMIN, ADMIN_PASSWORD))  # the key exists once a token was signed
    return Forger.of(secured)


@pytest.fixture
def image(secured: RunningRegistry) -> str:
    """An existing repository of the admin, with tag `1`."""
    repository = f"{ADMIN}/{unique_name('r')}"
    with client_for(secured, (ADMIN, ADMIN_PASSWORD)) as admin:
        push_image(admin, repository, tag="1")
    return repository


def tags_with(secured: RunningRegistry, repository: str, token: str) -> httpx.Response:
    return httpx.get(f"{secured.url}/v2/{repository}/tags/list", headers={"Authorization": f"Bearer {token}"})


def test_the_genuine_forger_token_is_accepted(secured: RunningRegistry, forger: Forger, image: str) -> None:
    """The control: the forging helper itself makes valid tokens, so each refusal below is the claim's fault."""
    response = tags_with(secured, image, forger.sign(forger.claims(image, ["pull"])))
    assert response.status_code == 200, response.text


Attack = Callable[[Forger, str], str]

ATTACKS: dict[str, Attack] = {
    "signed by another key with the real kid": lambda f, r: f.sign(
        f.claims(r, ["pull"]), key=Ed25519PrivateKey.generate()
    ),
    "signed by another key with its own kid": lambda f, r: f.sign(f.claims(r, ["pull"]), key=f.other_key, kid="other"),
    "alg none": lambda f, r: f.unsigned(f.claims(r, ["pull"])),
    "HS256 keyed with the public key": lambda f, r: f.hs256_with_public_key(f.claims(r, ["pull"])),
    "expired": lambda f, r: f.sign(f.claims(r, ["pull"], exp=int(time.time()) - 120, iat=int(time.time()) - 420)),
    "not yet valid": lambda f, r: f.sign(f.claims(r, ["pull"], nbf=int(time.time()) + 600)),
    "issued in the future": lambda f, r: f.sign(f.claims(r, ["pull"], iat=int(time.time()) + 600)),
    "wrong audience": lambda f, r: f.sign(f.claims(r, ["pull"], aud="another-registry")),
    "wrong issuer": lambda f, r: f.sign(f.claims(r, ["pull"], iss="https://evil.example")),
    "no expiry": lambda f, r: f.sign({k: v for k, v in f.claims(r, ["pull"]).items() if k != "exp"}),
    "tampered payload": lambda f, r: _tamper(f.sign(f.claims("someone/else", ["pull"])), f.claims(r, ["pull"])),
    "garbage": lambda f, r: "not-a-jwt",
}


def _tamper(token: str, claims: dict[str, object]) -> str:
    import base64
    import json

    header, _, signature = token.split(".")
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


@pytest.mark.parametrize("attack", ATTACKS, ids=list(ATTACKS))
def test_forged_or_stale_tokens_are_unauthorized(
    secured: RunningRegistry, forger: Forger, image: str, attack: str
) -> None:
    response = tags_with(secured, image, ATTACKS[attack](forger, image))
    assert_error(response, 401, "UNAUTHORIZED")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_small_clock_skew_is_tolerated(secured: RunningRegistry, forger: Forger, image: str) -> None:
    token = forger.sign(forger.claims(image, ["pull"], nbf=int(time.time()) + 5, iat=int(time.time()) + 5))
    assert tags_with(secured, image, token).status_code == 200


def test_a_token_for_repository_a_does_not_open_repository_b(secured: RunningRegistry) -> None:
    name, password = create_user(secured)
    with client_for(secured, (name, password)) as client:
        push_image(client, f"{name}/b", tag="1")
    token = token_for(secured.url, (name, password), f"repository:{name}/a:pull,push")
    response = tags_with(secured, f"{name}/b", token)
    assert_error(response, 403, "DENIED")
    # The owner may read B, so the answer says which token to ask for (RFC 6750 insufficient_scope).
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert f'scope="repository:{name}/b:pull"' in response.headers["www-authenticate"]


def test_a_refusal_the_caller_cannot_fix_carries_no_challenge(secured: RunningRegistry, image: str) -> None:
    name, password = create_user(secured)
    token = token_for(secured.url, (name, password), f"repository:{image}:pull")
    response = tags_with(secured, image, token)
    assert_error(response, 403, "DENIED")
    assert "www-authenticate" not in response.headers


def test_push_with_a_pull_only_token_is_refused(secured: RunningRegistry) -> None:
    reader, password = create_user(secured)
    owner, owner_password = create_user(secured)
    grant(secured, "user", reader, f"{owner}/*", "read")
    token = token_for(secured.url, (reader, password), f"repository:{owner}/app:pull,push")
    response = httpx.post(f"{secured.url}/v2/{owner}/app/blobs/uploads/", headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 403, "DENIED")
    with client_for(secured, (reader, password)) as client:
        assert_error(client.put(f"/v2/{owner}/app/manifests/1", content=b"{}"), 403, "DENIED")
        assert_error(client.delete(f"/v2/{owner}/app/manifests/sha256:{'0' * 64}"), 403, "DENIED")


def test_a_user_without_any_role_is_denied(secured: RunningRegistry, image: str) -> None:
    name, password = create_user(secured)
    with client_for(secured, (name, password)) as client:
        response = client.get(f"/v2/{image}/manifests/1")
        assert_error(response, 403, "DENIED")


def _pat(secured: RunningRegistry, user: tuple[str, str], scopes: list[str], **extra: object) -> dict[str, object]:
    with api(secured, user) as client:
        body = {"name": unique_name("t"), "scopes": scopes, **extra}
        response = client.post(f"/users/{user[0]}/tokens", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())


def test_push_with_a_pull_only_access_token_is_denied(secured: RunningRegistry) -> None:
    user = create_user(secured)
    pat = _pat(secured, user, ["pull"])
    with client_for(secured, (user[0], str(pat["token"]))) as client:
        response = client.post(f"/v2/{user[0]}/app/blobs/uploads/")
        assert_error(response, 403, "DENIED")


def test_a_revoked_access_token_is_refused(secured: RunningRegistry) -> None:
    user = create_user(secured)
    pat = _pat(secured, user, ["pull", "push"])
    credentials = (user[0], str(pat["token"]))
    assert fetch_token(secured.url, credentials, f"repository:{user[0]}/app:pull").status_code == 200
    with api(secured, user) as client:
        assert client.delete(f"/users/{user[0]}/tokens/{pat['id']}").status_code == 204
    assert_error(fetch_token(secured.url, credentials, f"repository:{user[0]}/app:pull"), 401, "UNAUTHORIZED")


def test_an_expired_access_token_is_refused_and_says_expired(secured: RunningRegistry) -> None:
    user = create_user(secured)
    pat = _pat(secured, user, ["pull"], expires_in_days=1 / 86400)  # one second
    time.sleep(1.5)
    response = fetch_token(secured.url, (user[0], str(pat["token"])), f"repository:{user[0]}/app:pull")
    assert_error(response, 401, "UNAUTHORIZED")
    assert "expired" in response.json()["errors"][0]["message"]


def test_an_access_token_works_only_with_its_owners_name(secured: RunningRegistry) -> None:
    user = create_user(secured)
    other, _ = create_user(secured)
    pat = _pat(secured, user, ["pull"])
    assert_error(fetch_token(secured.url, (other, str(pat["token"]))), 401, "UNAUTHORIZED")


def test_brute_force_on_token_is_rate_limited_per_user_and_per_address(
    start_registry: Callable[..., RunningRegistry],
) -> None:
    from tests.functional.auth.conftest import AUTH_SETTINGS

    settings = {**AUTH_SETTINGS, "login_failures_per_user": "3", "login_failures_per_address": "6"}
    server = start_registry(**settings)
    for attempt in range(3):
        assert_error(fetch_token(server.url, (ADMIN, f"guess-{attempt}")), 401, "UNAUTHORIZED")
    limited = fetch_token(server.url, (ADMIN, ADMIN_PASSWORD))  # even the right password now waits
    assert_error(limited, 429, "TOOMANYREQUESTS")
    assert int(limited.headers["retry-after"]) > 0
    with api(server) as admin:
        assert admin.get("/user").status_code == 429  # the management API shares the limit
    for attempt in range(3):  # other user names, same address
        assert_error(fetch_token(server.url, (f"nobody{attempt}", "guess")), 401, "UNAUTHORIZED")
    assert_error(fetch_token(server.url, ("someone-else", "guess")), 429, "TOOMANYREQUESTS")


def test_no_password_or_token_reaches_the_server_log(start_registry: Callable[..., RunningRegistry]) -> None:
    from tests.functional.auth.conftest import AUTH_SETTINGS

    server = start_registry(**{**AUTH_SETTINGS, "log_level": "debug"})
    user = create_user(server)
    pat = _pat(server, user, ["pull", "push"])
    secrets = [ADMIN_PASSWORD, user[1], str(pat["token"]), "wrong-password-x1"]
    fetch_token(server.url, (user[0], "wrong-password-x1"))
    with client_for(server, (user[0], str(pat["token"]))) as client:
        push_image(client, f"{user[0]}/app", tag="1")
    response = fetch_token(server.url, user, offline_token="true")
    secrets += [response.json()["token"], response.json()["refresh_token"]]
    with api(server, user) as client:
        login = client.post("/login-password").json()["password"]
    secrets.append(login)
    assert fetch_token(server.url, (user[0], login)).status_code == 200
    log = server.log()
    assert log, "the server wrote no log at all"
    for secret in secrets:
        assert secret not in log
