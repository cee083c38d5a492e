"""`moorage login`, `logout` and `whoami`: sign in once, like `docker login`, and every command uses it.

`login` never stores the password: it exchanges it for a login password (or a CI job's ID token
for an exchanged OIDC credential) and keeps that, with its expiry, in the user's config directory
(see `logins.py`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from moorage.cli.client import Credential, Registry
from moorage.cli.connection import (
    PasswordStdinOption,
    UsernameOption,
    VerboseOption,
    connected,
    read_password,
    resolve_url,
)
from moorage.cli.errors import USAGE, CliError, reported
from moorage.cli.exchange import login_password, oidc_exchange, token_file
from moorage.cli.logins import LoginStore, StoredLogin, normalise
from moorage.cli.output import JsonOption

UrlArgument = Annotated[
    str | None,
    typer.Argument(
        metavar="[URL]",
        envvar="MOORAGE_URL",
        show_default=False,
        help="The registry (default: MOORAGE_URL, the only stored login, else http://127.0.0.1:5000).",
    ),
]


def _until(login: StoredLogin) -> str:
    return f"until {login.expires_at.isoformat(timespec='seconds')}" if login.expires_at else "without expiry"


@reported
def login(
    url: UrlArgument = None,
    username: UsernameOption = None,
    password_stdin: PasswordStdinOption = False,
    oidc_token_file: Annotated[
        Path | None,
        typer.Option(
            "--oidc-token-file",
            envvar="MOORAGE_OIDC_TOKEN_FILE",
            help="Log in with a CI job's OIDC ID token read from this file (exchanged; no password).",
        ),
    ] = None,
    lifetime_hours: Annotated[
        float | None, typer.Option(help="Validity of the stored login password (default: the server's, 12 h).")
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """Sign in to a registry and store a short-lived credential (never the password) for every command."""
    target = normalise(resolve_url(url))
    if oidc_token_file is not None:
        if username or password_stdin:
            raise CliError("--oidc-token-file replaces --username and --password-stdin; give one or the other", USAGE)
        with Registry(target, None, verbose) as registry:
            stored = oidc_exchange(registry, token_file(oidc_token_file))
    else:
        name = username or _ask_username()
        secret = read_password(name, password_stdin)
        with Registry(target, Credential(name, secret, "--username"), verbose) as registry:
            stored = login_password(registry, lifetime_hours)
    LoginStore().save(stored)
    typer.echo(f"Logged in to {target} as {stored.username}: stored a {stored.kind} valid {_until(stored)}.")


def _ask_username() -> str:
    if not sys.stdin.isatty():
        raise CliError("no username: pass --username or set MOORAGE_USERNAME", USAGE)
    name: str = typer.prompt("Username", err=True)
    if not name.strip():
        raise CliError("an empty username was given", USAGE)
    return name.strip()


@reported
def logout(url: UrlArgument = None) -> None:
    """Forget the stored login for a registry."""
    target = resolve_url(url)
    removed = LoginStore().remove(target)
    if removed is None:
        typer.echo(f"Not logged in to {normalise(target)}.")
    else:
        typer.echo(f"Logged out of {removed.url} ({removed.username}).")


@connected
def whoami(registry: Registry, as_json: JsonOption = False) -> None:
    """Who the registry sees: name, kind, credential, scopes and expiry, and which login was used."""
    me: dict[str, Any] = registry.call("GET", "/user")
    signed_in = registry.credential.source if registry.credential else "nobody (anonymous)"
    if as_json:
        typer.echo(json.dumps({**me, "registry": registry.url, "signed_in_with": signed_in}, indent=2))
        return
    lines = [
        ("registry", registry.url),
        ("name", f"{me.get('name')} ({me.get('kind')})"),
        ("credential", me.get("credential") or "-"),
        ("signed in with", signed_in),
        ("registry admin", "yes" if me.get("admin") else "no"),
    ]
    if "scopes" in me:
        scopes = me["scopes"]
        lines.append(("scopes", ", ".join(map(str, scopes)) if isinstance(scopes, list) else str(scopes or "all")))
    if "expires_at" in me:
        lines.append(("expires at", str(me["expires_at"] or "never")))
    for key, value in lines:
        typer.echo(f"{key + ':':<16}{value}")


def register(app: typer.Typer) -> None:
    app.command("login")(login)
    app.command("logout")(logout)
    app.command("whoami")(whoami)
