"""The access log and structured logs of a running server: one JSON line per request with its id,
the id returned to the caller and carried by every line of the request, and no secret anywhere."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.functional.auth.conftest import AUTH_SETTINGS
from tests.functional.helpers import push_image
from tests.support.auth import ADMIN, ADMIN_PASSWORD, api, client_for, create_user, fetch_token, token_for
from tests.support.server import RunningRegistry, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    settings = {**AUTH_SETTINGS, "log_level": "debug", "gc_interval_seconds": "0", "lifecycle_interval_seconds": "0"}
    with start_server(tmp_path_factory.mktemp("access-log") / "data", **settings) as running:
        yield running


def log_lines(server: RunningRegistry) -> list[dict[str, Any]]:
    """Every line the server wrote; a line that is not a JSON object fails the test (stderr is not a terminal)."""
    lines = []
    for line in server.log().splitlines():
        if line.strip():
            document = json.loads(line)
            assert isinstance(document, dict), line
            lines.append(document)
    return lines


def access_lines(server: RunningRegistry, request_id: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The access lines of one request. The line is written once the response has gone out, so the
    client may read the response before the line is in the file: wait for it (an empty list after
    `timeout` fails the caller's assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [
            line
            for line in log_lines(server)
            if line["logger"] == "moorage.access" and line.get("request_id") == request_id
        ]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_every_line_is_json_when_stderr_is_not_a_terminal(server: RunningRegistry) -> None:
    assert httpx.get(f"{server.url}/v2/").status_code == 401
    lines = log_lines(server)
    assert {"time", "level", "logger", "message"} <= set(lines[0])


def test_an_access_line_has_every_field_and_the_request_id_comes_back(server: RunningRegistry) -> None:
    response = httpx.get(f"{server.url}/v2/", auth=(ADMIN, ADMIN_PASSWORD))
    request_id = response.headers["x-request-id"]
    [line] = access_lines(server, request_id)
    assert line["method"] == "GET" and line["path"] == "/v2/" and line["status"] == response.status_code
    assert line["remote"] == "127.0.0.1"
    assert line["identity"] in ("-", "anonymous")  # /v2/ with Basic is refused: bearer tokens only
    assert {"time", "bytes_in", "bytes_out", "duration_ms"} <= set(line)


def test_a_sane_incoming_request_id_is_kept_and_a_forged_one_replaced(server: RunningRegistry) -> None:
    mine = f"trace-{uuid.uuid4().hex}"
    assert httpx.get(f"{server.url}/healthz", headers={"X-Request-Id": mine}).headers["x-request-id"] == mine
    assert len(access_lines(server, mine)) == 1
    for forged in ("a\u2028b", "x" * 300, "ok id with spaces", '"}{"level":"error'):
        returned = httpx.get(f"{server.url}/healthz", headers={"X-Request-Id": forged.encode()}).headers["x-request-id"]
        assert returned != forged and returned.isalnum()


def test_every_log_line_of_a_request_carries_its_id(server: RunningRegistry) -> None:
    """A GC pass asked over the API logs from a worker thread: its line carries the request's id."""
    request_id = f"gc-{uuid.uuid4().hex}"
    with api(server) as admin:
        response = admin.post("/gc", params={"dry_run": "true"}, headers={"X-Request-Id": request_id})
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == request_id
    [access] = access_lines(server, request_id)
    assert access["identity"] == f"user:{ADMIN}"
    lines = [line for line in log_lines(server) if line.get("request_id") == request_id]
    loggers = {line["logger"] for line in lines}
    assert "moorage.access" in loggers and any(line["message"].startswith("gc dry run") for line in lines), lines
    dry_runs = [line for line in log_lines(server) if line["message"].startswith("gc dry run")]
    assert all("request_id" in line for line in dry_runs), dry_runs


def test_identity_of_a_pull_is_the_tokens_subject_and_the_route_is_logged(server: RunningRegistry) -> None:
    user = create_user(server)
    with client_for(server, user) as client:
        manifest = push_image(client, f"{user[0]}/app", tag="1")
        response = client.get(f"/v2/{user[0]}/app/manifests/1", headers={"Accept": manifest.media_type})
    assert response.status_code == 200
    [line] = access_lines(server, response.headers["x-request-id"])
    assert line["identity"] == f"user:{user[0]}"
    assert line["bytes_out"] == len(response.content)


def test_no_secret_is_ever_logged(server: RunningRegistry, tmp_path: Path) -> None:
    """Passwords, access tokens, robot secrets, registry tokens, refresh tokens and login passwords
    travel in every way a client sends them (Basic, Bearer, form, query string), right and wrong;
    none of them appears anywhere in the server's log."""
    user = create_user(server)
    secrets = [ADMIN_PASSWORD, user[1]]
    with api(server, user) as client:
        pat = client.post(f"/users/{user[0]}/tokens", json={"name": "ci", "scopes": ["pull", "push"]}).json()["token"]
        robot = client.post(
            f"/namespaces/{user[0]}/robots", json={"name": "ci", "scopes": ["pull"], "repositories": [f"{user[0]}/app"]}
        ).json()
        login_password = client.post("/login-password").json()["password"]
    secrets += [pat, robot["secret"], login_password]
    with client_for(server, (user[0], pat)) as client:
        push_image(client, f"{user[0]}/app", tag="1")
    offline = fetch_token(server.url, user, f"repository:{user[0]}/app:pull", offline_token="true").json()
    secrets += [offline["token"], offline["refresh_token"]]
    # The refresh token as an OAuth2 form, the registry token as a Bearer header.
    refreshed = httpx.post(
        f"{server.url}/token",
        data={"grant_type": "refresh_token", "refresh_token": offline["refresh_token"], "service": "moorage"},
    )
    assert refreshed.status_code == 200, refreshed.text
    secrets.append(refreshed.json()["token"])
    bearer = {"Authorization": f"Bearer {offline['token']}"}
    assert httpx.get(f"{server.url}/v2/{user[0]}/app/tags/list", headers=bearer).status_code == 200
    robot_token = token_for(server.url, (robot["username"], robot["secret"]), f"repository:{user[0]}/app:pull")
    secrets.append(robot_token)
    assert httpx.get(f"{server.url}/v2/", headers={"Authorization": f"Bearer {robot_token}"}).status_code == 200
    # Errors: wrong passwords, a secret in the query string, a malformed header, a password grant form.
    wrong = "wrong-" + uuid.uuid4().hex
    query_secret = "query-" + uuid.uuid4().hex
    form_secret = "form-" + uuid.uuid4().hex
    secrets += [wrong, query_secret, form_secret]
    assert fetch_token(server.url, (user[0], wrong)).status_code == 401
    assert httpx.get(f"{server.url}/api/v1/user", auth=(ADMIN, wrong)).status_code == 401
    httpx.get(f"{server.url}/token", params={"service": "moorage", "password": query_secret, "code": query_secret})
    httpx.get(f"{server.url}/v2/", headers={"Authorization": f"Bearer {wrong}.{wrong}.{wrong}"})
    httpx.get(f"{server.url}/api/v1/user", headers={"Authorization": f"Basic {wrong}"})
    last = httpx.post(
        f"{server.url}/token", data={"grant_type": "password", "username": user[0], "password": form_secret}
    )
    assert access_lines(server, last.headers["x-request-id"])  # every request above is in the log
    log = server.log()
    assert "moorage.access" in log and f"user:{user[0]}" in log
    leaked = [secret for secret in secrets if secret in log]
    assert not leaked, f"{len(leaked)} secret(s) in the server log"
    assert "password=…" in log  # the query parameter is named, its value dropped
