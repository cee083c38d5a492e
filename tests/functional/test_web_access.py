"""The web UI's security over HTTP: sessions, CSRF, headers, who sees what, throttled sign-in.

One registry with authentication on serves the module; users are made through the management API.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.functional.helpers import push_image
from tests.functional.web_support import browser, csrf_of, post_form, sign_in, signed_in
from tests.support.auth import ADMIN, ADMIN_PASSWORD, DockerTokenAuth
from tests.support.server import RunningRegistry, start_server

PASSWORD = "web-" + uuid.uuid4().hex
FAILURES_PER_USER = 3


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    settings = {
        "auth_enabled": "true",
        "admin_username": ADMIN,
        "admin_password": ADMIN_PASSWORD,
        "login_failures_per_user": str(FAILURES_PER_USER),
        "login_failures_per_address": "100000",
    }
    with start_server(tmp_path_factory.mktemp("web-access"), **settings) as server:
        yield server


@pytest.fixture(scope="module")
def api(secured: RunningRegistry) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{secured.url}/api/v1", auth=(ADMIN, ADMIN_PASSWORD), timeout=30) as client:
        yield client


def new_user(api: httpx.Client, prefix: str = "u") -> str:
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    assert api.post("/users", json={"name": name, "password": PASSWORD}).status_code == 201
    return name


@pytest.fixture(scope="module")
def private_repo(secured: RunningRegistry, api: httpx.Client) -> tuple[str, str]:
    """A private repository with one image, pushed by the admin: (name, image digest)."""
    name = f"web{uuid.uuid4().hex[:6]}/secret"
    with httpx.Client(base_url=secured.url, auth=DockerTokenAuth((ADMIN, ADMIN_PASSWORD)), timeout=30) as client:
        manifest = push_image(client, name, "v1")
    return name, manifest.digest


def pages_of(name: str, digest: str) -> list[str]:
    return [
        f"/repositories/{name}",
        f"/repositories/{name}/-/images/{digest}",
        f"/repositories/{name}/-/tags/v1/history",
        f"/repositories/{name}/-/settings",
        f"/usage?repository={name}",
    ]


def test_pages_redirect_to_sign_in_until_signed_in(secured: RunningRegistry) -> None:
    with browser(secured.url) as client:
        response = client.get("/repositories?namespace=team")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=%2Frepositories%3Fnamespace%3Dteam"
        assert client.get("/login").status_code == 200


def test_session_cookie_is_http_only_same_site_lax_and_not_a_registry_password(
    secured: RunningRegistry, api: httpx.Client
) -> None:
    user = new_user(api)
    with browser(secured.url) as client:
        response = sign_in(client, user, PASSWORD)
        assert response.status_code == 303
        cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith("moorage_session="))
        flags = [part.strip().lower() for part in cookie.split(";")]
        assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
        assert "secure" not in flags  # plain HTTP on loopback: a Secure cookie would never come back
        assert any(flag.startswith("max-age=") for flag in flags)
        session = client.cookies["moorage_session"]
    # A stolen session cookie is no `docker login` password.
    token = httpx.get(f"{secured.url}/token", params={"service": "moorage"}, auth=(user, session))
    assert token.status_code == 401


def test_session_cookie_is_secure_when_the_registry_is_served_over_https(tmp_path: Path) -> None:
    settings = {"auth_enabled": "true", "admin_password": ADMIN_PASSWORD, "external_url": "https://registry.example"}
    with start_server(tmp_path / "tls", **settings) as server, browser(server.url) as client:
        form = client.get("/login")
        presession = next(v for v in form.headers.get_list("set-cookie") if v.startswith("moorage_csrf="))
        assert "secure" in [part.strip().lower() for part in presession.split(";")]
        # A browser sends Secure cookies back over HTTPS only; this test speaks HTTP, so it sends it itself.
        value = presession.split(";", 1)[0]
        data = {"csrf_token": csrf_of(form), "username": ADMIN, "password": ADMIN_PASSWORD}
        response = client.post("/login", data=data, headers={"cookie": value})
        assert response.status_code == 303
        cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith("moorage_session="))
        assert "secure" in [part.strip().lower() for part in cookie.split(";")]


def test_every_page_carries_a_strict_content_security_policy(
    secured: RunningRegistry, private_repo: tuple[str, str]
) -> None:
    name, digest = private_repo
    client = signed_in(secured.url, ADMIN, ADMIN_PASSWORD)
    paths = [
        "/login",
        "/repositories",
        "/audit",
        "/tokens",
        "/no/such/page",
        "/static/app.css",
        *pages_of(name, digest),
    ]
    paths.append(f"/usage?namespace={name.split('/')[0]}")
    for path in paths:
        response = client.get(path)
        assert response.status_code in (200, 303, 404), (path, response.status_code)
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["referrer-policy"] == "same-origin", path
        if response.headers.get("content-type", "").startswith("text/html"):
            assert "<script>" not in response.text and " style=" not in response.text, path
    assert "max-age" in client.get("/static/clipboard.js").headers["cache-control"]


def test_a_form_post_without_its_csrf_token_is_refused(secured: RunningRegistry, private_repo: tuple[str, str]) -> None:
    name, _ = private_repo
    client = signed_in(secured.url, ADMIN, ADMIN_PASSWORD)
    settings = f"/repositories/{name}/-/settings"
    for token in (None, "", "0" * 64):
        data = {"visibility": "public", "description": "forged"}
        if token is not None:
            data["csrf_token"] = token
        assert client.post(settings, data=data).status_code == 403
    assert client.post("/tokens", data={"name": "forged", "scopes": "pull"}).status_code == 403
    # Another session's token does not work either: tokens are tied to the session.
    other = signed_in(secured.url, ADMIN, ADMIN_PASSWORD)
    foreign = csrf_of(other.get(settings))
    response = client.post(settings, data={"csrf_token": foreign, "visibility": "public"})
    assert response.status_code == 403
    assert "forged" not in client.get(settings).text
    # The sign-in form is protected too (login CSRF).
    with browser(secured.url) as fresh:
        refused = fresh.post("/login", data={"username": ADMIN, "password": ADMIN_PASSWORD})
        assert refused.status_code == 403 and "moorage_session" not in fresh.cookies


def test_an_outsider_cannot_tell_a_private_repository_exists(
    secured: RunningRegistry, api: httpx.Client, private_repo: tuple[str, str]
) -> None:
    name, digest = private_repo
    outsider = signed_in(secured.url, new_user(api, "out"), PASSWORD)
    missing = f"{name.split('/')[0]}/does-not-exist"
    for path in pages_of(name, digest):
        response = outsider.get(path)
        assert response.status_code == 404, path
        assert name not in response.text and digest not in response.text
        twin = outsider.get(path.replace(name, missing))
        assert twin.status_code == 404 and twin.text.replace(missing, name) == response.text
    assert name not in outsider.get("/repositories").text
    assert outsider.get("/audit").status_code == 403


def test_a_pull_only_user_reads_settings_but_cannot_change_them(
    secured: RunningRegistry, api: httpx.Client, private_repo: tuple[str, str]
) -> None:
    name, digest = private_repo
    reader = new_user(api, "reader")
    grant = {"subject_kind": "user", "subject": reader, "repository_pattern": name, "role": "read"}
    assert api.put("/grants", json=grant).status_code == 200
    client = signed_in(secured.url, reader, PASSWORD)
    for path in pages_of(name, digest):
        assert client.get(path).status_code == 200, path
    settings_page = f"/repositories/{name}/-/settings"
    page = client.get(settings_page)
    assert 'id="read-only"' in page.text and 'id="save-settings"' not in page.text
    changed = post_form(client, settings_page, settings_page, visibility="public", tag_mutability="IMMUTABLE")
    assert changed.status_code == 403
    assert api.get(f"/repositories/{name}").json()["visibility"] == "private"
    policy = '{"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}]}'  # noqa: E501
    preview = post_form(client, settings_page, f"/repositories/{name}/-/lifecycle/preview", policy=policy)
    assert preview.status_code == 200 and 'id="save-policy"' not in preview.text
    save = post_form(client, settings_page, f"/repositories/{name}/-/lifecycle/save", policy=policy, proof="x")
    assert save.status_code == 403
    assert api.get(f"/repositories/{name}/lifecycle-policy").status_code == 404
    denied = api.get("/audit", params={"repository": name, "action": "repository.update", "outcome": "denied"})
    assert [e["actor"]["name"] for e in denied.json()["entries"]] == [reader]


def test_a_policy_is_saved_only_as_previewed(secured: RunningRegistry, private_repo: tuple[str, str]) -> None:
    name, _ = private_repo
    client = signed_in(secured.url, ADMIN, ADMIN_PASSWORD)
    settings_page = f"/repositories/{name}/-/settings"
    previewed = '{"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 5}, "action": {"type": "expire"}}]}'  # noqa: E501
    preview = post_form(client, settings_page, f"/repositories/{name}/-/lifecycle/preview", policy=previewed)
    assert preview.status_code == 200 and 'id="preview-summary"' in preview.text
    proof = preview.text.split('name="proof" value="', 1)[1].split('"', 1)[0]
    swapped = previewed.replace('"countNumber": 5', '"countNumber": 0')
    refused = client.post(
        f"/repositories/{name}/-/lifecycle/save",
        data={"csrf_token": csrf_of(preview), "policy": swapped, "proof": proof},
    )
    assert refused.status_code == 409
    saved = client.post(
        f"/repositories/{name}/-/lifecycle/save",
        data={"csrf_token": csrf_of(preview), "policy": previewed, "proof": proof},
    )
    assert saved.status_code == 303
    with httpx.Client(base_url=f"{secured.url}/api/v1", auth=(ADMIN, ADMIN_PASSWORD)) as api:
        stored = api.get(f"/repositories/{name}/lifecycle-policy").json()
        assert stored["policy"]["rules"][0]["selection"]["countNumber"] == 5
        audit = api.get("/audit", params={"action": "lifecycle_policy.put", "repository": name}).json()["entries"]
        assert audit and audit[-1]["actor"]["name"] == ADMIN


def test_revoking_a_users_sessions_signs_them_out_of_the_ui(secured: RunningRegistry, api: httpx.Client) -> None:
    user = new_user(api)
    client = signed_in(secured.url, user, PASSWORD)
    assert client.get("/repositories").status_code == 200
    assert api.post(f"/users/{user}/revoke-sessions").status_code == 204
    response = client.get("/repositories")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    # And a disabled user's new session ends the same way.
    client = signed_in(secured.url, user, PASSWORD)
    assert api.patch(f"/users/{user}", json={"disabled": True}).status_code == 200
    assert client.get("/tokens").status_code == 303


def test_signing_out_ends_the_session_in_the_browser(secured: RunningRegistry, api: httpx.Client) -> None:
    client = signed_in(secured.url, new_user(api), PASSWORD)
    response = post_form(client, "/repositories", "/logout")
    assert response.status_code == 303
    assert "moorage_session" not in client.cookies
    assert client.get("/repositories").status_code == 303


def test_sign_in_failures_are_throttled_like_docker_login(secured: RunningRegistry, api: httpx.Client) -> None:
    user = new_user(api, "victim")
    with browser(secured.url) as client:
        for _ in range(FAILURES_PER_USER):
            assert sign_in(client, user, "wrong-password").status_code == 401
        locked = sign_in(client, user, PASSWORD)
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        assert "moorage_session" not in client.cookies
    # One limit for both doors: the token endpoint refuses the right password now too.
    token = httpx.get(f"{secured.url}/token", params={"service": "moorage"}, auth=(user, PASSWORD))
    assert token.status_code == 429
    failures = api.get("/audit", params={"action": "auth.login", "actor": user, "outcome": "failure"}).json()
    assert len(failures["entries"]) >= FAILURES_PER_USER


def test_only_local_redirects_after_sign_in(secured: RunningRegistry, api: httpx.Client) -> None:
    user = new_user(api)
    with browser(secured.url) as client:
        form = client.get("/login")
        for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
            data = {"csrf_token": csrf_of(form), "username": user, "password": PASSWORD, "next": target}
            response = client.post("/login", data=data)
            assert response.headers["location"] == "/"
            client.cookies.clear()
            form = client.get("/login")


def test_a_new_token_is_shown_once_and_audited(secured: RunningRegistry, api: httpx.Client) -> None:
    user = new_user(api)
    client = signed_in(secured.url, user, PASSWORD)
    created = post_form(client, "/tokens", "/tokens", name="ci", scopes=["pull", "push"], repositories=f"{user}/*")
    assert created.status_code == 201
    secret = created.text.split('id="secret-value">', 1)[1].split("<", 1)[0]
    assert secret.startswith("moorage_pat_")
    assert f"--username &#39;{user}&#39; --password-stdin" in created.text
    assert secret not in client.get("/tokens").text
    token = httpx.get(f"{secured.url}/token", params={"service": "moorage"}, auth=(user, secret))
    assert token.status_code == 200
    entries = api.get("/audit", params={"action": "access_token.create", "target": user}).json()["entries"]
    assert any(e["target"] == user and secret not in str(e) for e in entries)


def test_a_namespace_admin_creates_a_robot_and_an_outsider_cannot_see_its_robots(
    secured: RunningRegistry, api: httpx.Client
) -> None:
    owner = new_user(api, "own")  # a user administers the namespace named after them
    client = signed_in(secured.url, owner, PASSWORD)
    robots = f"/namespaces/{owner}/robots"
    created = post_form(client, robots, robots, name="deployer", scopes="pull", repositories=f"{owner}/app")
    assert created.status_code == 201
    secret = created.text.split('id="secret-value">', 1)[1].split("<", 1)[0]
    assert f"{owner}+deployer" in created.text and secret not in client.get(robots).text
    token = httpx.get(
        f"{secured.url}/token",
        params={"service": "moorage", "scope": f"repository:{owner}/app:pull"},
        auth=(f"{owner}+deployer", secret),
    )
    assert token.status_code == 200
    outsider = signed_in(secured.url, new_user(api, "out"), PASSWORD)
    assert outsider.get(robots).status_code == 403
    assert post_form(outsider, "/tokens", robots, name="mine", scopes="admin").status_code == 403
    entries = api.get("/audit", params={"action": "robot.create"}).json()["entries"]
    assert any(e["detail"].get("robot") == f"{owner}+deployer" and e["actor"]["name"] == owner for e in entries)
