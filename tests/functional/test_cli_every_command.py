"""After one `moorage login`, every command group works on a registry with authentication on, and no secret leaks.

The password, the stored login password and any other token never appear in stdout or stderr,
except the new secret a create command must show once. Failures are one line in one format, with
a documented exit code and never a traceback.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.cli_support import Cli, cli_fixture, secured_server_fixture  # noqa: F401  (fixtures)
from tests.functional.helpers import push_image
from tests.support.auth import ADMIN, ADMIN_PASSWORD, client_for, fetch_token, unique_name


class Transcript:
    """Every command's output, to check for secrets once at the end."""

    def __init__(self, cli: Cli) -> None:
        self.cli = cli
        self.results: list[tuple[tuple[str, ...], subprocess.CompletedProcess[str]]] = []

    def __call__(self, *args: str, expect: int = 0, **env: str) -> subprocess.CompletedProcess[str]:
        result = self.cli.run(*args, expect=expect, **env)
        self.results.append((args, result))
        return result

    def assert_clean(self, secrets: list[str], shown_once: dict[tuple[str, ...], str]) -> None:
        for args, result in self.results:
            assert "Traceback" not in result.stderr, args
            assert "HTTP Request" not in result.stderr, args  # httpx's INFO line, with URLs
            for secret in secrets:
                allowed = shown_once.get(args)
                stdout = result.stdout.replace(allowed, "") if allowed else result.stdout
                assert secret not in stdout and secret not in result.stderr, f"a secret in the output of {args}"


def test_every_command_group_signs_in_with_the_stored_login_and_prints_no_secret(cli: Cli, tmp_path: Path) -> None:
    cli.login()
    stored_secret = json.loads(cli.logins_file.read_text())["logins"][cli.server.url]["secret"]
    moorage = Transcript(cli)
    ns = unique_name("every")
    repo = f"{ns}/app"
    user_password = "every-user-password-1"

    # repo, tag, images, usage, audit, template, lifecycle, gc
    moorage("repo", "create", repo, "--description", "every command")
    assert repo in moorage("repo", "list", "--prefix", ns).stdout
    moorage("repo", "update", repo, "--visibility", "private")
    assert "every command" in moorage("repo", "describe", repo).stdout
    with client_for(cli.server, (ADMIN, ADMIN_PASSWORD)) as registry:
        image = push_image(registry, repo, "v1")
        push_image(registry, repo)
    assert "create" in moorage("tag", "history", f"{repo}:v1").stdout
    assert image.digest in moorage("images", "list", repo).stdout
    assert json.loads(moorage("usage", "repo", repo, "--json").stdout)["images"] == 2
    assert repo in moorage("audit", "list", "--repository", repo).stdout
    moorage("audit", "export", "--repository", repo)
    head = json.loads(moorage("audit", "head", "--json").stdout)["hash"]
    assert "audit log intact" in moorage("audit", "verify", "--head", head).stdout
    moorage("template", "put", f"{ns}-tpl", "--create-on-push")
    assert f"{ns}-tpl" in moorage("template", "list").stdout
    moorage("template", "delete", f"{ns}-tpl")
    policy = tmp_path / "policy.json"
    selection = {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 5}
    policy.write_text(
        json.dumps({"rules": [{"rulePriority": 1, "selection": selection, "action": {"type": "expire"}}]})
    )
    assert "would expire" in moorage("lifecycle", "preview", repo, "--policy", str(policy)).stdout
    moorage("gc", "--dry-run")
    moorage("images", "delete", repo, "v1")
    moorage("repo", "delete", repo, "--force")

    # users, tokens, robots, orgs, teams, grants, issuers, keys, login-password
    user = unique_name("every")
    moorage("users", "create", user, MOORAGE_NEW_PASSWORD=user_password)
    assert user in moorage("users", "list").stdout
    moorage("users", "disable", user)
    moorage("users", "disable", user, "--enable")
    token = moorage("tokens", "create", "every", "-s", "pull").stdout.strip()
    assert fetch_token(cli.server.url, (ADMIN, token)).status_code == 200
    tokens = json.loads(moorage("tokens", "list", "--json").stdout)
    moorage("tokens", "revoke", next(t["id"] for t in tokens if t["name"] == "every"))
    robot_user, robot_secret = moorage("robots", "create", ns, "bot", "-s", "pull").stdout.split()
    assert robot_user in moorage("robots", "list", ns).stdout
    rotated = moorage("robots", "rotate", ns, "bot").stdout.strip()
    moorage("robots", "delete", ns, "bot")
    org = unique_name("everyorg")
    moorage("orgs", "create", org)
    assert org in moorage("orgs", "list").stdout
    moorage("teams", "create", org, "devs")
    moorage("teams", "add-member", org, "devs", user)
    assert user in moorage("teams", "list", org).stdout
    moorage("teams", "remove-member", org, "devs", user)
    moorage("grants", "add", f"user:{user}", f"{ns}/*", "read")
    assert user in moorage("grants", "list", "--namespace", ns).stdout
    moorage("grants", "remove", f"user:{user}", f"{ns}/*")
    moorage("teams", "delete", org, "devs")
    moorage("orgs", "delete", org)
    moorage("issuers", "list")
    moorage("keys", "rotate")
    fresh = moorage("login-password").stdout.strip()
    assert fetch_token(cli.server.url, (ADMIN, fresh)).status_code == 200
    moorage("users", "delete", user)
    moorage("whoami")

    shown_once = {
        ("tokens", "create", "every", "-s", "pull"): token,
        ("robots", "create", ns, "bot", "-s", "pull"): robot_secret,
        ("robots", "rotate", ns, "bot"): rotated,
        ("login-password",): fresh,
    }
    secrets = [ADMIN_PASSWORD, stored_secret, user_password, token, robot_secret, rotated, fresh]
    moorage.assert_clean(secrets, shown_once)


def test_a_password_in_the_url_is_used_but_never_printed_even_with_verbose(cli: Cli) -> None:
    url = cli.server.url.replace("http://", f"http://{ADMIN}:{ADMIN_PASSWORD}@")
    quiet = cli.run("users", "list", "--url", url)
    assert quiet.stderr == "" and ADMIN in quiet.stdout
    verbose = cli.run("users", "list", "--url", url, "--verbose")
    assert "GET http://" in verbose.stderr and "/api/v1/users" in verbose.stderr
    assert ADMIN_PASSWORD not in verbose.stderr + verbose.stdout
    refused = cli.run("users", "list", "--url", url.replace(ADMIN_PASSWORD, "wrong-secret-x"), "--verbose", expect=1)
    assert "wrong-secret-x" not in refused.stderr + refused.stdout


def test_a_missing_or_invalid_policy_file_is_one_line_with_exit_code_2(cli: Cli, tmp_path: Path) -> None:
    cli.login()
    missing = cli.run("lifecycle", "preview", "any/repo", "--policy", str(tmp_path / "absent.json"), expect=2)
    assert missing.stderr.startswith("moorage: error: --policy: cannot read") and "Traceback" not in missing.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    invalid = cli.run("repo", "create", "any/repo", "--lifecycle-policy", str(broken), expect=2)
    assert invalid.stderr.startswith("moorage: error: --lifecycle-policy:") and "not valid JSON" in invalid.stderr
    assert len(invalid.stderr.strip().splitlines()) == 1


@pytest.fixture
def dropping_server() -> Iterator[str]:
    """A TCP server that accepts each connection and closes it without answering (a crashed peer)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            connection.recv(65536)
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    listener.close()


def test_a_dropped_or_refused_connection_is_one_line_with_exit_code_3(cli: Cli, dropping_server: str) -> None:
    dropped = cli.run("repo", "list", "--url", dropping_server, expect=3)
    assert dropped.stderr.startswith(f"moorage: error: cannot reach {dropping_server}")
    assert "Traceback" not in dropped.stderr
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    refused = cli.run("gc", "--url", f"http://127.0.0.1:{port}", expect=3)
    assert refused.stderr.startswith("moorage: error: cannot reach") and "Traceback" not in refused.stderr
