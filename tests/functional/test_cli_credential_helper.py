"""`docker-credential-moorage`, driven over its protocol (argv action, stdin, stdout, exit status) as docker does.

docker-credential-helpers' conventions: `get` prints `{"ServerURL","Username","Secret"}`; an unknown
server prints `credentials not found in native keychain` on stdout with exit status 1; errors go to
stdout, one line, exit status 1.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.functional.cli_support import AUTH_SETTINGS, Cli
from tests.support.auth import ADMIN, ADMIN_PASSWORD, claims_of, fetch_token
from tests.support.oidc_issuer import OidcIssuer, issuer_body, push_rule, running_issuer
from tests.support.server import RunningRegistry, start_server

HELPER = str(Path(sys.executable).parent / "docker-credential-moorage")
NOT_FOUND = "credentials not found in native keychain\n"
SERVICE = "moorage"  # the registry's token service: the audience CI jobs ask for


@pytest.fixture(scope="module")
def issuer() -> Iterator[OidcIssuer]:
    with running_issuer() as running:
        yield running


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, issuer: OidcIssuer) -> Iterator[RunningRegistry]:
    with start_server(tmp_path_factory.mktemp("helper"), **AUTH_SETTINGS) as running:
        body = issuer_body(issuer, "ci", [push_rule("acme/api")], audience=SERVICE)
        response = httpx.post(f"{running.url}/api/v1/oidc/issuers", json=body, auth=(ADMIN, ADMIN_PASSWORD))
        assert response.status_code == 201, response.text
        yield running


@pytest.fixture
def cli(server: RunningRegistry, tmp_path: Path) -> Cli:
    return Cli(server, tmp_path / "config")


def helper(cli: Cli, action: str, stdin: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("MOORAGE_", "ACTIONS_"))}
    environment.update({"XDG_CONFIG_HOME": str(cli.config_home), **env})
    return subprocess.run([HELPER, action], input=stdin, env=environment, capture_output=True, text=True, timeout=60)


def host(cli: Cli) -> str:
    return cli.server.host


def test_get_answers_a_fresh_login_password_made_from_the_stored_login(cli: Cli) -> None:
    cli.login()
    stored = json.loads(cli.logins_file.read_text())["logins"][cli.server.url]["secret"]
    result = helper(cli, "get", host(cli) + "\n")
    assert result.returncode == 0 and result.stderr == ""
    answer = json.loads(result.stdout)
    assert answer["ServerURL"] == host(cli) and answer["Username"] == ADMIN
    assert answer["Secret"] not in (stored, ADMIN_PASSWORD)
    assert claims_of(answer["Secret"])["exp"] <= (datetime.now(UTC) + timedelta(hours=1, minutes=1)).timestamp()
    assert fetch_token(cli.server.url, (ADMIN, answer["Secret"])).status_code == 200


def test_get_for_an_unknown_registry_answers_the_protocols_not_found(cli: Cli) -> None:
    result = helper(cli, "get", "registry.invalid:5000")
    assert (result.returncode, result.stdout, result.stderr) == (1, NOT_FOUND, "")


def test_get_with_an_expired_stored_login_says_to_log_in_again(cli: Cli) -> None:
    cli.login()
    document = json.loads(cli.logins_file.read_text())
    document["logins"][cli.server.url]["expires_at"] = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    cli.logins_file.write_text(json.dumps(document))
    result = helper(cli, "get", host(cli))
    assert result.returncode == 1 and "expired" in result.stdout and "moorage login" in result.stdout


def test_store_keeps_a_login_password_never_the_secret_then_list_and_erase(cli: Cli) -> None:
    credentials = {"ServerURL": host(cli), "Username": ADMIN, "Secret": ADMIN_PASSWORD}
    stored = helper(cli, "store", json.dumps(credentials), MOORAGE_URL=cli.server.url)
    assert stored.returncode == 0, stored.stdout
    assert ADMIN_PASSWORD not in cli.logins_file.read_text()
    assert stat.S_IMODE(os.stat(cli.logins_file).st_mode) == 0o600
    assert json.loads(helper(cli, "list", "").stdout) == {host(cli): ADMIN}
    assert json.loads(helper(cli, "get", host(cli)).stdout)["Username"] == ADMIN
    assert helper(cli, "erase", host(cli)).returncode == 0
    assert helper(cli, "get", host(cli)).stdout == NOT_FOUND
    assert helper(cli, "erase", host(cli)).stdout == NOT_FOUND


def test_store_with_a_wrong_password_fails_and_stores_nothing(cli: Cli) -> None:
    credentials = {"ServerURL": host(cli), "Username": ADMIN, "Secret": "wrong-password-z"}
    result = helper(cli, "store", json.dumps(credentials), MOORAGE_URL=cli.server.url)
    assert result.returncode == 1 and "401" in result.stdout and "wrong-password-z" not in result.stdout
    assert not cli.logins_file.exists()


def test_malformed_requests_get_the_protocols_errors(cli: Cli) -> None:
    assert helper(cli, "get", "").stdout == "no credentials server URL\n"
    assert helper(cli, "store", json.dumps({"ServerURL": host(cli)})).stdout == "no credentials username\n"
    assert helper(cli, "store", "{nope").returncode == 1
    unknown = helper(cli, "steal", "")
    assert (unknown.returncode, unknown.stdout) == (1, "Unknown credential action `steal`\n")


def test_without_a_stored_login_get_exchanges_the_workloads_oidc_token_file(
    cli: Cli, issuer: OidcIssuer, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(issuer.mint(issuer.claims(repository="acme/api", aud=SERVICE)) + "\n")
    result = helper(cli, "get", host(cli), MOORAGE_URL=cli.server.url, MOORAGE_OIDC_TOKEN_FILE=str(token_file))
    assert result.returncode == 0, result.stdout
    answer = json.loads(result.stdout)
    assert answer["Secret"] != token_file.read_text().strip()
    token = fetch_token(cli.server.url, (answer["Username"], answer["Secret"]), "repository:acme/api:pull,push")
    assert token.status_code == 200
    assert claims_of(token.json()["token"])["access"][0]["actions"] == ["pull", "push"]


@contextlib.contextmanager
def github_actions(issuer: OidcIssuer, request_token: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """GitHub Actions' ID-token endpoint: answers a bearer-authenticated GET with a token for `audience`."""
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            seen.append({"authorization": self.headers.get("Authorization"), "query": query})
            if self.headers.get("Authorization") != f"bearer {request_token}":
                self.send_response(401)
                self.end_headers()
                return
            claims = issuer.claims(repository="acme/api", aud=query["audience"][0])
            body = json.dumps({"value": issuer.mint(claims)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/token?api-version=2.0", seen
    finally:
        server.shutdown()
        server.server_close()


def test_in_github_actions_get_requests_an_id_token_for_the_registrys_service(cli: Cli, issuer: OidcIssuer) -> None:
    request_token = uuid.uuid4().hex
    with github_actions(issuer, request_token) as (request_url, seen):
        env = {
            "MOORAGE_URL": cli.server.url,
            "ACTIONS_ID_TOKEN_REQUEST_URL": request_url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": request_token,
        }
        result = helper(cli, "get", host(cli), **env)
    assert result.returncode == 0, result.stdout
    assert seen[0]["query"] == {"api-version": ["2.0"], "audience": [SERVICE]}
    answer = json.loads(result.stdout)
    assert (
        fetch_token(cli.server.url, (answer["Username"], answer["Secret"]), "repository:acme/api:push").status_code
        == 200
    )
    assert request_token not in result.stdout + result.stderr


def test_login_with_an_oidc_token_file_stores_the_exchanged_credential(
    cli: Cli, issuer: OidcIssuer, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    id_token = issuer.mint(issuer.claims(repository="acme/api", aud=SERVICE))
    token_file.write_text(id_token)
    cli.run("login", "--oidc-token-file", str(token_file))
    text = cli.logins_file.read_text()
    assert id_token not in text and json.loads(text)["logins"][cli.server.url]["kind"] == "oidc credential"
    assert "(oidc)" in cli.run("whoami").stdout


def test_configure_docker_adds_the_helper_and_keeps_everything_else(cli: Cli, tmp_path: Path) -> None:
    docker_config = tmp_path / "docker"
    docker_config.mkdir()
    other = {"auths": {"other.example": {"auth": "b3RoZXI6c2VjcmV0"}}, "credHelpers": {"gcr.io": "gcloud"}}
    (docker_config / "config.json").write_text(json.dumps(other))
    auth_file = tmp_path / "containers" / "auth.json"
    env = {"DOCKER_CONFIG": str(docker_config), "REGISTRY_AUTH_FILE": str(auth_file)}
    cli.run("configure-docker", host(cli), **env)
    docker = json.loads((docker_config / "config.json").read_text())
    assert docker["auths"] == other["auths"]
    assert docker["credHelpers"] == {"gcr.io": "gcloud", host(cli): "moorage"}
    assert json.loads(auth_file.read_text()) == {"credHelpers": {host(cli): "moorage"}}
    assert stat.S_IMODE(os.stat(auth_file).st_mode) == 0o600
    assert "already uses" in cli.run("configure-docker", host(cli), **env).stdout

    (docker_config / "config.json").write_text("{broken")
    refused = cli.run("configure-docker", host(cli), expect=2, **env)
    assert "not valid JSON" in refused.stderr and (docker_config / "config.json").read_text() == "{broken"
