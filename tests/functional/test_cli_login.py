"""`moorage login`, `logout`, `whoami` and how every command signs in, against a registry with authentication on."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.functional.cli_support import Cli, cli_fixture, secured_server_fixture  # noqa: F401  (fixtures)
from tests.support.auth import ADMIN, ADMIN_PASSWORD, api, fetch_token, unique_name
from tests.support.server import RunningRegistry, free_port, wait_until_ready


def stored(cli: Cli) -> dict[str, str]:
    logins = json.loads(cli.logins_file.read_text())["logins"]
    assert list(logins) == [cli.server.url]
    return dict(logins[cli.server.url])


def test_login_stores_a_short_lived_login_password_never_the_password_in_a_private_file(cli: Cli) -> None:
    result = cli.run("login", "--username", ADMIN, "--password-stdin", stdin=ADMIN_PASSWORD + "\n")
    assert f"as {ADMIN}" in result.stdout and ADMIN_PASSWORD not in result.stdout + result.stderr
    assert stat.S_IMODE(os.stat(cli.logins_file.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(cli.logins_file).st_mode) == 0o600
    assert ADMIN_PASSWORD not in cli.logins_file.read_text()
    login = stored(cli)
    assert login["username"] == ADMIN and login["kind"] == "login password"
    expires = datetime.fromisoformat(login["expires_at"])
    assert datetime.now(UTC) < expires <= datetime.now(UTC) + timedelta(hours=12, minutes=1)
    assert fetch_token(cli.server.url, (ADMIN, login["secret"])).status_code == 200


def test_whoami_says_who_and_with_which_stored_credential(cli: Cli) -> None:
    cli.login()
    shown = cli.run("whoami").stdout
    assert f"{ADMIN} (user)" in shown and "stored login (login password, expires" in shown
    document = json.loads(cli.run("whoami", "--json").stdout)
    assert document["name"] == ADMIN and document["admin"] is True and document["registry"] == cli.server.url


def test_commands_that_could_not_sign_in_before_use_the_stored_login(cli: Cli) -> None:
    name = unique_name("cli")
    cli.run("repo", "create", f"{name}/app", expect=1)  # nobody signed in: 401
    cli.login()
    cli.run("repo", "create", f"{name}/app", "--description", "after login")
    assert "after login" in cli.run("repo", "describe", f"{name}/app").stdout
    assert json.loads(cli.run("usage", "namespace", name, "--json").stdout)
    assert "ID" in cli.run("audit", "list", "--repository", f"{name}/app").stdout
    cli.run("gc", "--dry-run")


def test_a_refusal_for_want_of_a_login_says_how_to_log_in(cli: Cli) -> None:
    result = cli.run("repo", "list", expect=1)
    assert result.stderr.startswith("moorage: error: ") and "(HTTP 401)" in result.stderr
    assert f"hint: run `moorage login {cli.server.url}`" in result.stderr


def test_logout_forgets_the_login(cli: Cli) -> None:
    cli.login()
    assert "Logged out" in cli.run("logout").stdout
    assert json.loads(cli.logins_file.read_text())["logins"] == {}
    cli.run("whoami", expect=1)
    assert "Not logged in" in cli.run("logout").stdout


def test_an_expired_stored_login_asks_for_a_new_login_instead_of_a_bare_401(cli: Cli) -> None:
    cli.login()
    document = json.loads(cli.logins_file.read_text())
    document["logins"][cli.server.url]["expires_at"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    cli.logins_file.write_text(json.dumps(document))
    result = cli.run("users", "list", expect=4)
    assert "expired at" in result.stderr and f"run `moorage login {cli.server.url}`" in result.stderr


def test_username_and_password_on_stdin_win_over_the_stored_login(cli: Cli) -> None:
    name = unique_name("cli")
    with api(cli.server) as admin:
        assert admin.post("/users", json={"name": name, "password": "user-password-1"}).status_code == 201
    cli.login()
    shown = cli.run("whoami", "--username", name, "--password-stdin", stdin="user-password-1\n").stdout
    assert f"{name} (user)" in shown
    from_env = cli.run("whoami", MOORAGE_USERNAME=name, MOORAGE_PASSWORD="user-password-1").stdout
    assert f"{name} (user)" in from_env


def test_a_username_without_a_password_and_no_terminal_fails_instead_of_sending_an_empty_password(cli: Cli) -> None:
    result = cli.run("users", "list", "-u", ADMIN, expect=2)
    assert "no password for admin" in result.stderr and "HTTP" not in result.stderr
    empty = cli.run("users", "list", "-u", ADMIN, "--password-stdin", stdin="\n", expect=2)
    assert "empty password" in empty.stderr
    login = cli.run("login", "--password-stdin", stdin=ADMIN_PASSWORD, expect=2)
    assert "--username" in login.stderr


def test_a_wrong_password_at_login_stores_nothing(cli: Cli) -> None:
    result = cli.run("login", "-u", ADMIN, "--password-stdin", stdin="not-the-password\n", expect=1)
    assert "(HTTP 401)" in result.stderr and "not-the-password" not in result.stderr + result.stdout
    assert not cli.logins_file.exists()


def test_login_to_a_registry_without_authentication_says_so(embedded_registry: RunningRegistry, tmp_path: Path) -> None:
    open_cli = Cli(embedded_registry, tmp_path / "config")
    result = open_cli.run("login", "-u", "someone", "--password-stdin", stdin="whatever-1\n", expect=1)
    assert "Authentication is off" in result.stderr or "authentication" in result.stderr.lower()
    assert not open_cli.logins_file.exists()


def test_serve_auth_flag_turns_authentication_on_even_on_loopback(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "MOORAGE_ADMIN_USERNAME": ADMIN, "MOORAGE_ADMIN_PASSWORD": ADMIN_PASSWORD}
    command = [sys.executable, "-m", "moorage", "serve", "--auth", "--port", str(port), "--data-dir", str(tmp_path)]
    log = tmp_path.parent / "serve-auth.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", process, log)
        assert httpx.get(f"http://127.0.0.1:{port}/v2/").status_code == 401
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def on_a_terminal(cli: Cli, *args: str, typed: str) -> tuple[int, str]:
    """Run `moorage` with a pseudo-terminal as its controlling terminal and stdin; type `typed` at the prompt."""
    import fcntl
    import pty
    import select
    import termios
    import time

    primary, secondary = pty.openpty()

    def take_terminal() -> None:
        os.setsid()
        fcntl.ioctl(secondary, termios.TIOCSCTTY, 0)

    environment = {key: value for key, value in os.environ.items() if not key.startswith("MOORAGE_")}
    environment.update({"XDG_CONFIG_HOME": str(cli.config_home), "MOORAGE_URL": cli.server.url})
    process = subprocess.Popen(
        [sys.executable, "-m", "moorage", *args],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=environment,
        preexec_fn=take_terminal,
    )
    os.close(secondary)
    deadline = time.monotonic() + 120
    shown = b""

    def read_some() -> bool:
        """Append what the terminal shows; False once the child has closed it."""
        nonlocal shown
        if not select.select([primary], [], [], 0.1)[0]:
            return True
        try:
            chunk = os.read(primary, 1024)
        except OSError:  # EIO: the child has exited
            return False
        shown += chunk
        return bool(chunk)

    try:
        # Type only once echo is off: getpass flushes (TCSAFLUSH) whatever was typed before.
        while b"Password" not in shown or termios.tcgetattr(primary)[3] & termios.ECHO:
            assert time.monotonic() < deadline and (read_some() or b"Password" in shown), shown
        os.write(primary, typed.encode() + b"\r")
        while read_some() and time.monotonic() < deadline:
            pass
        return process.wait(timeout=60), shown.decode(errors="replace")
    finally:
        os.close(primary)
        if process.poll() is None:
            process.kill()


def test_a_username_without_a_password_on_a_terminal_asks_for_it_without_echo(cli: Cli) -> None:
    code, shown = on_a_terminal(cli, "users", "list", "-u", ADMIN, typed=ADMIN_PASSWORD)
    assert code == 0, shown
    assert "Password for admin" in shown and "NAME" in shown and ADMIN_PASSWORD not in shown
