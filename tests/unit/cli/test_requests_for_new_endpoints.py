"""The exact requests the verbs for endpoints other parts of issue 11 add send, checked on a recording loopback server.

These endpoints (revoke-sessions, signing-key list and retire, robot grants, robot grant subjects)
come with the server side of issue 11; until it is merged here, the request each verb sends is
what is checked. tests/functional/test_cli_new_endpoints.py runs them against the real server.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from typer.testing import CliRunner

from moorage.cli.main import app


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    user: str | None


@dataclass
class Recorder:
    """Answers every request with the next canned (status, JSON) and remembers what came."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    answers: list[tuple[int, Any]] = field(default_factory=list)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    state = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            authorization = self.headers.get("Authorization", "")
            user = (
                base64.b64decode(authorization[6:]).decode().split(":")[0]
                if authorization.startswith("Basic ")
                else None
            )
            state.requests.append(Recorded(self.command, self.path, json.loads(raw) if raw else None, user))
            status, answer = state.answers.pop(0) if state.answers else (204, None)
            data = json.dumps(answer).encode() if answer is not None else b""
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def moorage(recorder: Recorder, *args: str) -> Any:
    env = {"MOORAGE_USERNAME": "root", "MOORAGE_PASSWORD": "root-password-1", "XDG_CONFIG_HOME": "/nonexistent"}
    return CliRunner().invoke(app, [*args, "--url", recorder.url], env=env)


def test_users_revoke_sessions_posts_to_the_users_revoke_sessions(recorder: Recorder) -> None:
    result = moorage(recorder, "users", "revoke-sessions", "alice")
    assert result.exit_code == 0, result.output
    assert [(r.method, r.path, r.user) for r in recorder.requests] == [
        ("POST", "/api/v1/users/alice/revoke-sessions", "root")
    ]


def test_keys_list_shows_every_key_with_its_state(recorder: Recorder) -> None:
    key = {
        "kid": "k1",
        "algorithm": "EdDSA",
        "created_at": "2026-12-01T00:00:00Z",
        "signs_until": None,
        "verifies_until": "2027-01-01T00:00:00Z",
        "state": "active",
    }
    recorder.answers.append((200, [key]))
    result = moorage(recorder, "keys", "list")
    assert result.exit_code == 0, result.output
    assert recorder.requests[0].method == "GET" and recorder.requests[0].path == "/api/v1/system/signing-keys"
    heading, row = result.stdout.splitlines()
    assert heading.split() == ["KID", "ALGORITHM", "CREATED_AT", "SIGNS_UNTIL", "VERIFIES_UNTIL", "STATE"]
    assert row.split() == ["k1", "EdDSA", "2026-12-01T00:00:00Z", "-", "2027-01-01T00:00:00Z", "active"]


def test_keys_retire_posts_to_the_keys_retire(recorder: Recorder) -> None:
    result = moorage(recorder, "keys", "retire", "k1")
    assert result.exit_code == 0, result.output
    assert [(r.method, r.path) for r in recorder.requests] == [("POST", "/api/v1/system/signing-keys/k1/retire")]


@pytest.mark.parametrize("kid", ["-wRDS8u_wXzeg", "-uX3"])
def test_a_kid_of_an_older_key_that_starts_with_a_dash_is_given_after_a_double_dash(
    recorder: Recorder, kid: str
) -> None:
    """Keys made before `key_id` may have such a kid; the help says to pass it after `--`."""
    env = {"MOORAGE_USERNAME": "root", "MOORAGE_PASSWORD": "root-password-1", "XDG_CONFIG_HOME": "/nonexistent"}
    result = CliRunner().invoke(app, ["keys", "retire", "--url", recorder.url, "--", kid], env=env)
    assert result.exit_code == 0, result.output
    assert [(r.method, r.path) for r in recorder.requests] == [("POST", f"/api/v1/system/signing-keys/{kid}/retire")]


def test_robots_set_grants_puts_scopes_and_repositories(recorder: Recorder) -> None:
    recorder.answers.append((200, {"username": "acme+ci", "grants": []}))
    args = ["robots", "set-grants", "acme", "ci", "--scope", "pull", "--scope", "push", "--repository", "acme/app"]
    result = moorage(recorder, *args)
    assert result.exit_code == 0, result.output
    request = recorder.requests[0]
    assert (request.method, request.path) == ("PUT", "/api/v1/namespaces/acme/robots/ci/grants")
    assert request.body == {"scopes": ["pull", "push"], "repositories": ["acme/app"]}


def test_grants_add_accepts_a_robot_subject(recorder: Recorder) -> None:
    recorder.answers.append((200, {}))
    result = moorage(recorder, "grants", "add", "robot:acme+ci", "acme/*", "read")
    assert result.exit_code == 0, result.output
    body = recorder.requests[0].body
    assert body == {"subject_kind": "robot", "subject": "acme+ci", "repository_pattern": "acme/*", "role": "read"}


def test_a_robot_subject_without_its_namespace_is_refused_before_anything_is_sent(recorder: Recorder) -> None:
    result = moorage(recorder, "grants", "add", "robot:ci", "acme/*", "read")
    assert result.exit_code == 2 and "robot:NAMESPACE+NAME" in result.output
    assert recorder.requests == []


def test_whoami_shows_scopes_and_expiry_when_the_server_tells_them(recorder: Recorder) -> None:
    me = {"name": "root", "kind": "user", "credential": "token t1", "admin": False}
    recorder.answers.append((200, {**me, "scopes": ["pull"], "expires_at": "2026-12-06T00:00:00Z"}))
    result = moorage(recorder, "whoami")
    assert result.exit_code == 0, result.output
    assert "scopes:" in result.stdout and "pull" in result.stdout and "2026-12-06T00:00:00Z" in result.stdout
