"""Nobody takes over a namespace by creating an organisation with its name.

By default only registry admins create organisations (`organization_creation = "admins"`); with
`"users"` any user may, but never over a name already in use: repositories, grants, robots,
creation templates or audit entries under it, or a user of that name.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.functional.auth.conftest import AUTH_SETTINGS
from tests.functional.helpers import push_image
from tests.support.auth import ADMIN, ADMIN_PASSWORD, api, claims_of, client_for, create_user, token_for, unique_name
from tests.support.server import RunningRegistry, postgres_database, start_server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def open_registry(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningRegistry]:
    """A registry where every user may create organisations."""
    data_dir = tmp_path_factory.mktemp(f"orgs-{request.param}")
    settings = {**AUTH_SETTINGS, "organization_creation": "users"}
    if request.param == "postgres":
        with postgres_database() as database_url, start_server(data_dir, database_url, **settings) as server:
            yield server
    else:
        with start_server(data_dir, **settings) as server:
            yield server


def _create_org(server: RunningRegistry, credentials: tuple[str, str], name: str) -> httpx.Response:
    with api(server, credentials) as client:
        return client.post("/orgs", json={"name": name})


def _granted(server: RunningRegistry, credentials: tuple[str, str], repository: str) -> list[str]:
    token = token_for(server.url, credentials, f"repository:{repository}:pull,push,delete")
    return sorted(action for entry in claims_of(token)["access"] for action in entry["actions"])


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_by_default_only_registry_admins_create_organisations(secured: RunningRegistry) -> None:
    user = create_user(secured)
    _refused(_create_org(secured, user, unique_name("org")))
    assert _create_org(secured, (ADMIN, ADMIN_PASSWORD), unique_name("org")).status_code == 201


def test_a_user_cannot_take_over_a_namespace_the_admin_pushed_to(secured: RunningRegistry) -> None:
    namespace = unique_name("prod")
    with client_for(secured, (ADMIN, ADMIN_PASSWORD)) as registry:
        push_image(registry, f"{namespace}/api", tag="1")
    user = create_user(secured)
    _refused(_create_org(secured, user, namespace))
    assert _granted(secured, user, f"{namespace}/api") == []


def test_with_user_creation_a_namespace_holding_repositories_is_still_refused(open_registry: RunningRegistry) -> None:
    namespace = unique_name("prod")
    with client_for(open_registry, (ADMIN, ADMIN_PASSWORD)) as registry:
        push_image(registry, f"{namespace}/api", tag="1")
    user = create_user(open_registry)
    _refused(_create_org(open_registry, user, namespace))
    assert _granted(open_registry, user, f"{namespace}/api") == []
    assert _create_org(open_registry, user, unique_name("fresh")).status_code == 201
    assert _create_org(open_registry, (ADMIN, ADMIN_PASSWORD), namespace).status_code == 201  # an admin may


def test_a_namespace_with_only_grants_robots_or_templates_is_not_free(open_registry: RunningRegistry) -> None:
    user = create_user(open_registry)
    bystander = create_user(open_registry)
    granted, robot, templated = unique_name("g"), unique_name("r"), unique_name("t")
    with api(open_registry) as admin:
        body = {"subject_kind": "user", "subject": bystander[0], "repository_pattern": f"{granted}/app", "role": "read"}
        assert admin.put("/grants", json=body).status_code == 200
        created = admin.post(f"/namespaces/{robot}/robots", json={"name": "ci", "scopes": ["push"]})
        assert created.status_code == 201, created.text
        assert admin.put(f"/creation-templates/{templated}/team", json={"create_on_push": True}).status_code == 200
    for namespace in (granted, robot, templated):
        _refused(_create_org(open_registry, user, namespace))


def test_an_organisation_cannot_take_a_users_name(open_registry: RunningRegistry) -> None:
    user = create_user(open_registry)
    other = create_user(open_registry)
    response = _create_org(open_registry, user, other[0])
    assert response.status_code in (403, 409), response.text
    assert _granted(open_registry, user, f"{other[0]}/app") == []


def test_a_pull_only_token_cannot_create_an_organisation(open_registry: RunningRegistry) -> None:
    user = create_user(open_registry)
    with api(open_registry, user) as client:
        token = client.post(f"/users/{user[0]}/tokens", json={"name": "ro", "scopes": ["pull"]}).json()["token"]
    _refused(_create_org(open_registry, (user[0], token), unique_name("org")))


def test_deleting_and_recreating_an_organisation_hands_over_nothing(open_registry: RunningRegistry) -> None:
    founder = create_user(open_registry)
    member = create_user(open_registry)
    newcomer = create_user(open_registry)
    org = unique_name("acme")
    assert _create_org(open_registry, founder, org).status_code == 201
    with api(open_registry, founder) as client:
        body = {"subject_kind": "user", "subject": member[0], "repository_pattern": f"{org}/app", "role": "write"}
        assert client.put("/grants", json=body).status_code == 200
        robot = client.post(f"/namespaces/{org}/robots", json={"name": "ci", "scopes": ["push"]}).json()
        assert client.post(f"/orgs/{org}/teams", json={"name": "builders"}).status_code == 201
        assert client.put(f"/orgs/{org}/teams/builders/members/{member[0]}").status_code == 204
        team = {"subject_kind": "team", "subject": f"{org}/builders", "repository_pattern": f"{org}/*", "role": "write"}
        assert client.put("/grants", json=team).status_code == 200
        assert client.delete(f"/orgs/{org}").status_code == 204
    assert _granted(open_registry, member, f"{org}/app") == []
    robot_login = httpx.get(
        f"{open_registry.url}/token",
        params={"service": "moorage", "scope": f"repository:{org}/app:push"},
        auth=(robot["username"], robot["secret"]),
        timeout=30,
    )
    assert robot_login.status_code == 401
    _refused(_create_org(open_registry, newcomer, org))  # its audit trail still names it
    assert _granted(open_registry, newcomer, f"{org}/app") == []
    assert _create_org(open_registry, (ADMIN, ADMIN_PASSWORD), org).status_code == 201  # an admin re-creates it
    with api(open_registry) as admin:
        assert admin.get(f"/orgs/{org}/teams").json() == []
        assert admin.get(f"/namespaces/{org}/robots").json() == []
    assert _granted(open_registry, member, f"{org}/app") == []
    assert _granted(open_registry, founder, f"{org}/app") == []
