"""The management API of accounts: users, access tokens, robots, login passwords, organisations, teams, grants."""

from __future__ import annotations

import hashlib
import time

import httpx
import sqlalchemy as sa

from tests.functional.helpers import assert_error, push_image, tags_of
from tests.support.auth import (
    ADMIN,
    ADMIN_PASSWORD,
    api,
    client_for,
    create_user,
    fetch_token,
    grant,
    unique_name,
)
from tests.support.server import RunningRegistry


def _rows(server: RunningRegistry, sql: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(server.database_url or f"sqlite:///{server.data_dir / 'metadata.db'}")  # type: ignore[operator]
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def test_the_api_needs_credentials_and_says_how(secured: RunningRegistry) -> None:
    response = httpx.get(f"{secured.url}/api/v1/user")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].startswith("Basic")


def test_whoami_reports_the_caller(secured: RunningRegistry) -> None:
    with api(secured) as admin:
        assert admin.get("/user").json() == {
            "name": ADMIN,
            "kind": "user",
            "credential": None,
            "admin": True,
            "scopes": None,
            "expires_at": None,
        }


def test_only_admins_manage_users(secured: RunningRegistry) -> None:
    user = create_user(secured)
    with api(secured, user) as client:
        assert client.get("/users").status_code == 403
        assert client.post("/users", json={"name": unique_name("x"), "password": "long-enough-1"}).status_code == 403
        assert client.get(f"/users/{user[0]}").json()["name"] == user[0]
        assert client.get(f"/users/{ADMIN}").status_code == 403


def test_user_names_and_passwords_are_checked(secured: RunningRegistry) -> None:
    with api(secured) as admin:
        assert admin.post("/users", json={"name": "Bad Name", "password": "long-enough-1"}).status_code == 400
        assert admin.post("/users", json={"name": unique_name("u"), "password": "short"}).status_code == 400
        assert admin.post("/users", json={"name": ADMIN, "password": "long-enough-1"}).status_code == 409


def test_passwords_are_stored_as_argon2_hashes(secured: RunningRegistry) -> None:
    name, password = create_user(secured)
    ((stored,),) = _rows(secured, f"SELECT password_hash FROM users WHERE name = '{name}'")
    assert str(stored).startswith("$argon2id$") and password not in str(stored)


def test_a_disabled_user_cannot_log_in(secured: RunningRegistry) -> None:
    name, password = create_user(secured)
    with api(secured) as admin:
        assert admin.patch(f"/users/{name}", json={"disabled": True}).status_code == 200
    assert_error(fetch_token(secured.url, (name, password)), 401, "UNAUTHORIZED")


def test_a_user_changes_their_own_password(secured: RunningRegistry) -> None:
    name, password = create_user(secured)
    with api(secured, (name, password)) as client:
        assert client.patch(f"/users/{name}", json={"admin": True}).status_code == 403
        assert client.patch(f"/users/{name}", json={"password": "a-new-password-1"}).status_code == 200
    assert fetch_token(secured.url, (name, "a-new-password-1")).status_code == 200
    assert_error(fetch_token(secured.url, (name, password)), 401, "UNAUTHORIZED")


def test_an_access_token_is_shown_once_stored_hashed_scoped_and_records_its_use(secured: RunningRegistry) -> None:
    name, password = create_user(secured)
    with api(secured, (name, password)) as client:
        body = {"name": "ci", "scopes": ["push"], "repositories": [f"{name}/app"], "expires_in_days": 30}
        created = client.post(f"/users/{name}/tokens", json=body)
        assert created.status_code == 201, created.text
        token = created.json()
        assert token["token"].startswith("moorage_pat_")
        assert token["grants"] == [{"repository_pattern": f"{name}/app", "actions": ["pull", "push"]}]
        assert token["last_used_at"] is None
        assert client.post(f"/users/{name}/tokens", json=body).status_code == 409  # names are unique per user
    ((stored,),) = _rows(secured, f"SELECT secret_hash FROM access_tokens WHERE id = '{token['id']}'")
    assert stored == hashlib.sha256(token["token"].encode()).hexdigest()
    with client_for(secured, (name, token["token"])) as registry:
        push_image(registry, f"{name}/app", tag="1")
        assert_error(registry.post(f"/v2/{name}/other/blobs/uploads/"), 403, "DENIED")
    with api(secured, (name, password)) as client:
        listed = client.get(f"/users/{name}/tokens").json()
    assert [t["name"] for t in listed] == ["ci"]
    assert "token" not in listed[0] and listed[0]["last_used_at"] is not None


def test_access_tokens_are_created_only_by_their_owner_with_a_password(secured: RunningRegistry) -> None:
    name, password = create_user(secured)
    with api(secured) as admin:
        assert admin.post(f"/users/{name}/tokens", json={"name": "x", "scopes": ["pull"]}).status_code == 403
    with api(secured, (name, password)) as client:
        pat = client.post(f"/users/{name}/tokens", json={"name": "x", "scopes": ["pull"]}).json()["token"]
    with api(secured, (name, pat)) as with_token:
        assert with_token.post(f"/users/{name}/tokens", json={"name": "y", "scopes": ["admin"]}).status_code == 403


def test_an_access_token_never_exceeds_its_owners_rights(secured: RunningRegistry) -> None:
    name, password = create_user(secured)
    owner = create_user(secured)
    grant(secured, "user", name, f"{owner[0]}/*", "write")
    with api(secured, (name, password)) as client:
        pat = client.post(f"/users/{name}/tokens", json={"name": "all", "scopes": ["admin"]}).json()["token"]
    with client_for(secured, (name, pat)) as registry:
        push_image(registry, f"{owner[0]}/app", tag="1")
    with api(secured, owner) as client:  # the owner takes the role away; the token loses it at once
        response = client.delete(
            "/grants", params={"subject_kind": "user", "subject": name, "repository_pattern": f"{owner[0]}/*"}
        )
        assert response.status_code == 204
    with client_for(secured, (name, pat)) as registry:
        assert_error(registry.get(f"/v2/{owner[0]}/app/tags/list"), 403, "DENIED")


def test_a_robot_pushes_within_its_namespace_only(secured: RunningRegistry) -> None:
    owner = create_user(secured)
    with api(secured, owner) as client:
        body = {"name": "builder", "scopes": ["push"], "repositories": [f"{owner[0]}/service"]}
        created = client.post(f"/namespaces/{owner[0]}/robots", json=body)
        assert created.status_code == 201, created.text
        robot = created.json()
        outside = {"name": "thief", "scopes": ["pull"], "repositories": ["elsewhere/*"]}
        assert client.post(f"/namespaces/{owner[0]}/robots", json=outside).status_code == 400
    assert robot["username"] == f"{owner[0]}+builder" and robot["secret"].startswith("moorage_robot_")
    credentials = (robot["username"], robot["secret"])
    with client_for(secured, credentials) as registry:
        push_image(registry, f"{owner[0]}/service", tag="1")
        assert tags_of(registry, f"{owner[0]}/service") == ["1"]
        assert_error(registry.post(f"/v2/{owner[0]}/other/blobs/uploads/"), 403, "DENIED")


def test_robots_are_managed_by_the_namespace_admins_only(secured: RunningRegistry) -> None:
    owner = create_user(secured)
    stranger = create_user(secured)
    with api(secured, stranger) as client:
        assert client.post(f"/namespaces/{owner[0]}/robots", json={"name": "x", "scopes": ["pull"]}).status_code == 403
        assert client.get(f"/namespaces/{owner[0]}/robots").status_code == 403


def test_rotating_a_robot_secret_invalidates_the_old_one(secured: RunningRegistry) -> None:
    owner = create_user(secured)
    with api(secured, owner) as client:
        robot = client.post(f"/namespaces/{owner[0]}/robots", json={"name": "ci", "scopes": ["pull"]}).json()
        rotated = client.post(f"/namespaces/{owner[0]}/robots/ci/secret").json()
    assert_error(fetch_token(secured.url, (robot["username"], robot["secret"])), 401, "UNAUTHORIZED")
    assert fetch_token(secured.url, (robot["username"], rotated["secret"])).status_code == 200


def test_an_expired_robot_says_expired(secured: RunningRegistry) -> None:
    owner = create_user(secured)
    with api(secured, owner) as client:
        body = {"name": "old", "scopes": ["pull"], "expires_in_days": 1 / 86400}
        robot = client.post(f"/namespaces/{owner[0]}/robots", json=body).json()
    time.sleep(1.5)
    response = fetch_token(secured.url, (robot["username"], robot["secret"]))
    assert_error(response, 401, "UNAUTHORIZED")
    assert "expired" in response.json()["errors"][0]["message"]


def test_a_login_password_works_at_docker_login_and_says_expired_when_it_expires(secured: RunningRegistry) -> None:
    name, password = create_user(secured)
    with api(secured, (name, password)) as client:
        issued = client.post("/login-password").json()
        short = client.post("/login-password", json={"lifetime_hours": 1 / 3600}).json()
    assert issued["username"] == name
    hours = (
        time.mktime(time.strptime(issued["expires_at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.mktime(time.gmtime())
    ) / 3600
    assert 11.9 < hours <= 12
    with client_for(secured, (name, issued["password"])) as registry:
        push_image(registry, f"{name}/app", tag="1")
    time.sleep(1.5)
    response = fetch_token(secured.url, (name, short["password"]))
    assert_error(response, 401, "UNAUTHORIZED")
    assert "login password expired" in response.json()["errors"][0]["message"]


def test_a_login_password_stops_working_when_its_user_is_deleted(secured: RunningRegistry) -> None:
    name, password = create_user(secured)
    with api(secured, (name, password)) as client:
        login = client.post("/login-password").json()["password"]
    with api(secured) as admin:
        assert admin.delete(f"/users/{name}").status_code == 204
    assert_error(fetch_token(secured.url, (name, login)), 401, "UNAUTHORIZED")


def _organisation_of(server: RunningRegistry, founder: tuple[str, str]) -> str:
    """An organisation a registry admin creates (the default `organization_creation`) and hands to `founder`."""
    org = unique_name("org")
    with api(server) as admin:
        assert admin.post("/orgs", json={"name": org}).status_code == 201
    grant(server, "user", founder[0], f"{org}/*", "admin")
    return org


def test_a_team_role_on_an_organisation_lets_members_push(secured: RunningRegistry) -> None:
    founder = create_user(secured)
    member = create_user(secured)
    outsider = create_user(secured)
    org = _organisation_of(secured, founder)
    with api(secured, founder) as client:
        assert client.post(f"/orgs/{org}/teams", json={"name": "builders"}).status_code == 201
        assert client.put(f"/orgs/{org}/teams/builders/members/{member[0]}").status_code == 204
        body = {"subject_kind": "team", "subject": f"{org}/builders", "repository_pattern": f"{org}/*", "role": "write"}
        assert client.put("/grants", json=body).status_code == 200
        teams = client.get(f"/orgs/{org}/teams").json()
    assert teams == [{"name": "builders", "members": [member[0]]}]
    with client_for(secured, member) as registry:
        push_image(registry, f"{org}/api", tag="1")
        assert_error(registry.delete(f"/v2/{org}/api/manifests/1"), 403, "DENIED")  # write is not delete
    with client_for(secured, outsider) as registry:
        assert_error(registry.get(f"/v2/{org}/api/tags/list"), 403, "DENIED")
    with api(secured, member) as client:  # members are not organisation admins
        assert client.post(f"/orgs/{org}/teams", json={"name": "mine"}).status_code == 403


def test_one_repository_can_be_granted_to_exactly_one_identity(secured: RunningRegistry) -> None:
    founder = create_user(secured)
    ci = create_user(secured)
    org = _organisation_of(secured, founder)
    grant(secured, "user", ci[0], f"{org}/billing", "write")
    with client_for(secured, ci) as registry:
        push_image(registry, f"{org}/billing", tag="1")
        assert_error(registry.post(f"/v2/{org}/payments/blobs/uploads/"), 403, "DENIED")


def test_grants_need_the_admin_role_on_their_pattern(secured: RunningRegistry) -> None:
    user = create_user(secured)
    with api(secured, user) as client:
        mine = {"subject_kind": "anonymous", "repository_pattern": f"{user[0]}/public", "role": "read"}
        assert client.put("/grants", json=mine).status_code == 200
        theirs = {"subject_kind": "user", "subject": user[0], "repository_pattern": f"{ADMIN}/*", "role": "admin"}
        assert client.put("/grants", json=theirs).status_code == 403
        everything = {"subject_kind": "user", "subject": user[0], "repository_pattern": "*", "role": "read"}
        assert client.put("/grants", json=everything).status_code == 403
        writable = {"subject_kind": "anonymous", "repository_pattern": f"{user[0]}/x", "role": "write"}
        assert client.put("/grants", json=writable).status_code == 400  # anonymous is read-only
        listed = client.get("/grants", params={"namespace": user[0]}).json()
    assert [(g["subject_kind"], g["repository_pattern"], g["role"]) for g in listed] == [
        ("anonymous", f"{user[0]}/public", "read")
    ]


def test_the_admin_password_is_not_in_config_show(secured: RunningRegistry) -> None:
    assert ADMIN_PASSWORD not in secured.log()
