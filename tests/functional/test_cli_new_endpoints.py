"""CLI verbs for revoke-sessions, signing keys, robot grants and `whoami`'s scopes, on the real server."""

from __future__ import annotations

import json

from tests.functional.cli_support import Cli, cli_fixture, secured_server_fixture  # noqa: F401  (fixtures)
from tests.support.auth import claims_of, create_user, fetch_token, unique_name


def test_revoke_sessions_ends_a_users_stored_login(cli: Cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    name, password = create_user(cli.server)
    user = Cli(cli.server, tmp_path / "user-config")
    user.login(name, password)
    user.run("whoami")
    cli.login()
    cli.run("users", "revoke-sessions", name)
    refused = user.run("whoami", expect=1)
    assert "(HTTP 401)" in refused.stderr and "moorage login" in refused.stderr


def test_keys_list_then_retire_a_key_that_no_longer_signs(cli: Cli) -> None:
    cli.login()
    old = json.loads(cli.run("keys", "list", "--json").stdout)
    assert {"kid", "algorithm", "created_at", "state"} <= set(old[0])
    cli.run("keys", "rotate")
    retired = next(key["kid"] for key in old if key["state"] != "retired")
    cli.run("keys", "retire", retired)  # one kid in 64 starts with "-" (tests/unit/cli covers both forms)
    refused = cli.run("keys", "list", expect=1)  # the stored login password was signed by the retired key
    assert "(HTTP 401)" in refused.stderr and "moorage login" in refused.stderr
    cli.login()
    states = {key["kid"]: key["state"] for key in json.loads(cli.run("keys", "list", "--json").stdout)}
    assert states[retired] == "retired"


def test_robot_grants_change_after_creation_and_a_robot_can_be_a_grant_subject(cli: Cli) -> None:
    cli.login()
    ns = unique_name("robots")
    robot, secret = cli.run("robots", "create", ns, "ci", "-s", "pull", "-r", f"{ns}/a").stdout.split()
    cli.run("robots", "set-grants", ns, "ci", "--scope", "push", "--repository", f"{ns}/b")
    token = fetch_token(cli.server.url, (robot, secret), f"repository:{ns}/b:pull,push").json()["token"]
    assert claims_of(token)["access"][0]["actions"] == ["pull", "push"]
    cli.run("grants", "add", f"robot:{ns}+ci", f"{ns}/*", "read")
    robots = json.loads(cli.run("robots", "list", ns, "--json").stdout)  # robot grants are listed with the robot
    assert f"{ns}/*" in json.dumps(robots)


def test_whoami_shows_the_credentials_scopes_and_expiry(cli: Cli) -> None:
    cli.login()
    shown = cli.run("whoami").stdout
    assert "scopes:" in shown and "expires at:" in shown
