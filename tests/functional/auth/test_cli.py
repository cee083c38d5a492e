"""The account commands of the `moorage` CLI, run as a user would, against a running registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.functional.helpers import push_image
from tests.support.auth import ADMIN, ADMIN_PASSWORD, client_for, fetch_token, unique_name
from tests.support.server import RunningRegistry


def moorage(
    server: RunningRegistry, *args: str, user: tuple[str, str] = (ADMIN, ADMIN_PASSWORD), check: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "MOORAGE_URL": server.url,
        "MOORAGE_USERNAME": user[0],
        "MOORAGE_PASSWORD": user[1],
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-m", "moorage", *args], env=environment, capture_output=True, text=True, timeout=60
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_an_admin_creates_a_user_who_gets_a_login_password_for_podman(secured: RunningRegistry) -> None:
    name = unique_name("cli")
    moorage(secured, "users", "create", name, MOORAGE_NEW_PASSWORD="cli-password-1")
    listed = json.loads(moorage(secured, "users", "list", "--json").stdout)
    assert name in [user["name"] for user in listed]
    password = moorage(secured, "login-password", user=(name, "cli-password-1")).stdout.strip()
    assert fetch_token(secured.url, (name, password)).status_code == 200


def test_tokens_robots_and_grants_from_the_command_line(secured: RunningRegistry) -> None:
    name = unique_name("cli")
    moorage(secured, "users", "create", name, MOORAGE_NEW_PASSWORD="cli-password-1")
    user = (name, "cli-password-1")
    token = moorage(secured, "tokens", "create", "ci", "-s", "push", "-r", f"{name}/app", user=user).stdout.strip()
    with client_for(secured, (name, token)) as registry:
        push_image(registry, f"{name}/app", tag="1")
    tokens = json.loads(moorage(secured, "tokens", "list", "--json", user=user).stdout)
    assert [t["name"] for t in tokens] == ["ci"] and "token" not in tokens[0]
    moorage(secured, "tokens", "revoke", tokens[0]["id"], user=user)
    assert fetch_token(secured.url, (name, token)).status_code == 401

    robot_user, secret = moorage(secured, "robots", "create", name, "bot", "-s", "pull", user=user).stdout.split()
    assert robot_user == f"{name}+bot"
    assert fetch_token(secured.url, (robot_user, secret)).status_code == 200

    moorage(secured, "grants", "add", "anonymous", f"{name}/app", "read", user=user)
    grants = json.loads(moorage(secured, "grants", "list", "--namespace", name, "--json", user=user).stdout)
    assert [(g["subject_kind"], g["repository_pattern"]) for g in grants] == [("anonymous", f"{name}/app")]
    table = moorage(secured, "grants", "list", "--namespace", name, user=user).stdout
    assert "ANONYMOUS" not in table and "SUBJECT_KIND" in table and f"{name}/app" in table


def test_errors_are_reported_with_the_servers_reason(secured: RunningRegistry) -> None:
    result = moorage(secured, "users", "list", user=(ADMIN, "wrong-password"), check=False)
    assert result.returncode == 1
    assert "401" in result.stderr and "wrong-password" not in result.stderr + result.stdout


def test_local_admin_commands_recover_a_lost_password(start_registry, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.functional.auth.conftest import AUTH_SETTINGS

    data_dir = tmp_path / "data"
    server = start_registry(data_dir, **AUTH_SETTINGS)
    env = {**os.environ, "MOORAGE_DATA_DIR": str(data_dir), "MOORAGE_NEW_PASSWORD": "recovered-password-1"}
    for command in (["reset-password", ADMIN], ["create-user", "rescuer", "--admin"]):
        result = subprocess.run(
            [sys.executable, "-m", "moorage", "admin", *command], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
    assert fetch_token(server.url, (ADMIN, "recovered-password-1")).status_code == 200
    assert fetch_token(server.url, ("rescuer", "recovered-password-1")).status_code == 200
    assert fetch_token(server.url, (ADMIN, ADMIN_PASSWORD)).status_code == 401
