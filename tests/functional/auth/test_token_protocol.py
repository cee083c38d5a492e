"""The Docker registry token protocol over HTTP: challenges, /token (GET and POST), narrowing, JWKS, rotation."""

from __future__ import annotations

import httpx
import jwt

from tests.functional.helpers import assert_error, catalog, push_blob, push_image, random_bytes
from tests.support.auth import (
    ADMIN,
    ADMIN_PASSWORD,
    SERVICE,
    api,
    challenge,
    claims_of,
    client_for,
    create_user,
    fetch_token,
    grant,
    token_for,
    unique_name,
)
from tests.support.server import RunningRegistry


def access_of(token: str) -> dict[str, list[str]]:
    return {entry["name"]: entry["actions"] for entry in claims_of(token)["access"]}


def test_v2_without_a_token_gets_the_challenge(secured: RunningRegistry) -> None:
    response = httpx.get(f"{secured.url}/v2/")
    assert_error(response, 401, "UNAUTHORIZED")
    params = challenge(response)
    assert params["realm"] == f"{secured.url}/token"
    assert params["service"] == SERVICE
    assert "scope" not in params


def test_the_challenge_names_the_scope_the_request_needs(secured: RunningRegistry) -> None:
    pull = httpx.get(f"{secured.url}/v2/team/app/manifests/latest")
    assert_error(pull, 401, "UNAUTHORIZED")
    assert challenge(pull)["scope"] == "repository:team/app:pull"
    push = httpx.post(f"{secured.url}/v2/team/app/blobs/uploads/")
    assert challenge(push)["scope"] == "repository:team/app:pull,push"
    delete = httpx.delete(f"{secured.url}/v2/team/app/manifests/sha256:" + "0" * 64)
    assert challenge(delete)["scope"] == "repository:team/app:pull,delete"
    assert challenge(httpx.get(f"{secured.url}/v2/_catalog"))["scope"] == "registry:catalog:*"


def test_token_response_has_the_spec_fields_and_lives_minutes(secured: RunningRegistry) -> None:
    name, password = create_user(secured)
    response = fetch_token(secured.url, (name, password), f"repository:{name}/app:pull")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token"] == body["access_token"]
    assert 0 < body["expires_in"] <= 600
    assert body["issued_at"]
    assert "refresh_token" not in body
    assert response.headers["cache-control"] == "no-store"
    claims = claims_of(body["token"])
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert claims["aud"] == SERVICE and claims["sub"] == name
    assert jwt.get_unverified_header(body["token"])["alg"] == "EdDSA"


def test_several_scopes_are_narrowed_to_what_the_caller_may_do(secured: RunningRegistry) -> None:
    name, password = create_user(secured)
    other = unique_name("other") + "/app"
    grant(secured, "user", name, "shared/*", "read")
    token = token_for(
        secured.url,
        (name, password),
        f"repository:{name}/app:pull,push",
        "repository:shared/base:pull,push,delete",
        f"repository:{other}:pull",
    )
    access = access_of(token)
    assert sorted(access[f"{name}/app"]) == ["pull", "push"]
    assert access["shared/base"] == ["pull"]
    assert access[other] == []


def test_scopes_in_one_space_separated_parameter_are_all_granted(secured: RunningRegistry) -> None:
    name, password = create_user(secured)
    token = token_for(secured.url, (name, password), f"repository:{name}/a:pull repository:{name}/b:push")
    assert access_of(token) == {f"{name}/a": ["pull"], f"{name}/b": ["push"]}


def test_a_token_lets_the_owner_push_and_pull_their_namespace(secured: RunningRegistry) -> None:
    name, password = create_user(secured)
    with client_for(secured, (name, password)) as client:
        manifest = push_image(client, f"{name}/app", tag="1.0")
        response = client.get(f"/v2/{name}/app/manifests/1.0", headers={"Accept": manifest.media_type})
        assert response.status_code == 200
        assert response.content == manifest.body


def test_wrong_password_is_unauthorized(secured: RunningRegistry) -> None:
    name, _ = create_user(secured)
    response = fetch_token(secured.url, (name, "not-the-password"), f"repository:{name}/app:pull")
    assert_error(response, 401, "UNAUTHORIZED")
    assert "not-the-password" not in response.text


def test_a_token_for_another_service_is_not_issued(secured: RunningRegistry) -> None:
    response = httpx.get(f"{secured.url}/token", params={"service": "elsewhere"}, auth=(ADMIN, ADMIN_PASSWORD))
    assert response.status_code == 400


def test_post_password_grant_with_offline_access_returns_a_refresh_token(secured: RunningRegistry) -> None:
    name, password = create_user(secured)
    form = {
        "grant_type": "password",
        "username": name,
        "password": password,
        "service": SERVICE,
        "scope": f"repository:{name}/app:pull,push",
        "client_id": "tests",
        "access_type": "offline",
    }
    response = httpx.post(f"{secured.url}/token", data=form)
    assert response.status_code == 200, response.text
    body = response.json()
    assert sorted(access_of(body["access_token"])[f"{name}/app"]) == ["pull", "push"]
    refresh = body["refresh_token"]
    again = httpx.post(
        f"{secured.url}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "service": SERVICE,
            "scope": f"repository:{name}/app:pull",
            "client_id": "tests",
        },
    )
    assert again.status_code == 200, again.text
    assert access_of(again.json()["access_token"]) == {f"{name}/app": ["pull"]}
    assert claims_of(again.json()["access_token"])["sub"] == name


def test_get_with_offline_token_returns_a_refresh_token(secured: RunningRegistry) -> None:
    name, password = create_user(secured)
    response = fetch_token(secured.url, (name, password), offline_token="true")
    assert response.status_code == 200
    assert response.json()["refresh_token"]


def test_a_forged_refresh_token_is_refused(secured: RunningRegistry) -> None:
    response = httpx.post(
        f"{secured.url}/token", data={"grant_type": "refresh_token", "refresh_token": "a.b.c", "service": SERVICE}
    )
    assert_error(response, 401, "UNAUTHORIZED")


def test_post_with_an_unknown_grant_type_is_a_bad_request(secured: RunningRegistry) -> None:
    response = httpx.post(f"{secured.url}/token", data={"grant_type": "client_credentials"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_public_keys_are_published_as_jwks(secured: RunningRegistry) -> None:
    token = token_for(secured.url, (ADMIN, ADMIN_PASSWORD))
    kid = jwt.get_unverified_header(token)["kid"]
    for path in ("/token/jwks.json", "/.well-known/jwks.json"):
        keys = httpx.get(f"{secured.url}{path}").json()["keys"]
        key = next(k for k in keys if k["kid"] == kid)
        assert key["kty"] == "OKP" and key["crv"] == "Ed25519" and "d" not in key
        public = jwt.PyJWK(key).key
        assert jwt.decode(token, public, algorithms=["EdDSA"], audience=SERVICE)["sub"] == ADMIN


def test_rotating_the_key_keeps_earlier_tokens_valid(start_registry: object) -> None:
    from tests.functional.auth.conftest import AUTH_SETTINGS

    server = start_registry(**AUTH_SETTINGS)  # type: ignore[operator]
    before = token_for(server.url, (ADMIN, ADMIN_PASSWORD), "repository:admin/app:pull")
    with api(server) as admin:
        response = admin.post("/system/signing-keys/rotate")
        assert response.status_code == 200, response.text
        new_kid = response.json()["kid"]
    after = token_for(server.url, (ADMIN, ADMIN_PASSWORD), "repository:admin/app:pull")
    assert jwt.get_unverified_header(before)["kid"] != new_kid == jwt.get_unverified_header(after)["kid"]
    for token in (before, after):
        response = httpx.get(f"{server.url}/v2/admin/app/tags/list", headers={"Authorization": f"Bearer {token}"})
        assert_error(response, 404, "NAME_UNKNOWN")  # authorised; the repository just does not exist
    kids = {key["kid"] for key in httpx.get(f"{server.url}/token/jwks.json").json()["keys"]}
    assert {jwt.get_unverified_header(before)["kid"], new_kid} <= kids


def test_anonymous_pull_is_off_by_default_and_on_for_public_namespaces(secured: RunningRegistry) -> None:
    owner, password = create_user(secured)
    with client_for(secured, (owner, password)) as client:
        push_image(client, f"{owner}/private", tag="1")
        push_image(client, f"{owner}/public", tag="1")
    grant(secured, "anonymous", "*", f"{owner}/public", "read")
    with client_for(secured, None) as anonymous:
        assert_error(anonymous.get(f"/v2/{owner}/private/tags/list"), 401, "UNAUTHORIZED")
        listed = anonymous.get(f"/v2/{owner}/public/tags/list")
        assert listed.status_code == 200 and listed.json()["tags"] == ["1"]
        assert_error(anonymous.post(f"/v2/{owner}/public/blobs/uploads/"), 401, "UNAUTHORIZED")
    token = token_for(secured.url, None, f"repository:{owner}/public:pull,push")
    assert access_of(token) == {f"{owner}/public": ["pull"]}


def test_catalog_lists_only_readable_repositories(secured: RunningRegistry) -> None:
    alice, alice_password = create_user(secured)
    bob, bob_password = create_user(secured)
    with client_for(secured, (alice, alice_password)) as client:
        push_image(client, f"{alice}/one", tag="1")
    with client_for(secured, (bob, bob_password)) as client:
        push_image(client, f"{bob}/two", tag="1")
        repositories = catalog(client)
    assert f"{bob}/two" in repositories
    assert f"{alice}/one" not in repositories
    with client_for(secured, (ADMIN, ADMIN_PASSWORD)) as admin:
        assert {f"{alice}/one", f"{bob}/two"} <= set(catalog(admin))


def test_a_mount_from_an_unreadable_repository_becomes_a_plain_upload(secured: RunningRegistry) -> None:
    alice, alice_password = create_user(secured)
    bob, bob_password = create_user(secured)
    data = random_bytes(1000)
    with client_for(secured, (alice, alice_password)) as client:
        blob = push_blob(client, f"{alice}/secret", data)
    with client_for(secured, (bob, bob_password)) as client:
        response = client.post(
            f"/v2/{bob}/app/blobs/uploads/", params={"mount": blob.digest, "from": f"{alice}/secret"}
        )
        assert response.status_code == 202, response.text  # not 201: nothing was mounted
        assert client.head(f"/v2/{bob}/app/blobs/{blob.digest}").status_code == 404


def test_a_malformed_authorization_header_is_not_taken_for_anonymous(secured: RunningRegistry) -> None:
    response = httpx.get(f"{secured.url}/token", headers={"Authorization": "Basic not-base64!"})
    assert_error(response, 401, "UNAUTHORIZED")
