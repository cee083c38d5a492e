"""Which registry a command talks to and who it signs in as: one resolution for every command.

The URL: `--url`, else MOORAGE_URL, else the only stored login, else http://127.0.0.1:5000.
The credential, in order:
1. `--username NAME` (or MOORAGE_USERNAME) with the password from `--password-stdin`, else
   MOORAGE_PASSWORD, else a hidden prompt when a terminal is attached; with none of these the
   command fails (exit 2) rather than send an empty password;
2. `user:password@` in the URL;
3. the login `moorage login` stored for that registry (an expired one fails with exit 4 and a
   hint to log in again, instead of a bare 401);
4. nobody (anonymous), which works on a registry without authentication.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable
from datetime import UTC
from typing import Annotated, Any, TypeVar
from urllib.parse import unquote, urlsplit

import typer

from moorage.cli.client import Credential, Registry, masked
from moorage.cli.errors import LOGIN_NEEDED, USAGE, CliError, reported
from moorage.cli.logins import LoginStore, LoginStoreError, StoredLogin, normalise

DEFAULT_URL = "http://127.0.0.1:5000"

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="MOORAGE_URL",
        show_envvar=True,
        help="The registry's base URL (default: the only stored login, else http://127.0.0.1:5000).",
    ),
]
UsernameOption = Annotated[
    str | None,
    typer.Option(
        "--username",
        "-u",
        envvar="MOORAGE_USERNAME",
        show_envvar=True,
        help="Sign in as this user instead of the stored login; the password comes from --password-stdin, "
        "MOORAGE_PASSWORD or a prompt.",
    ),
]
PasswordStdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password (or token) for --username from stdin.")
]
VerboseOption = Annotated[bool, typer.Option("--verbose", help="Print each request line (credentials masked).")]

T = TypeVar("T")


def resolve_url(url: str | None, store: LoginStore | None = None) -> str:
    if url:
        return url
    try:
        logins = (store or LoginStore()).all()
    except LoginStoreError:
        logins = []
    return logins[0].url if len(logins) == 1 else DEFAULT_URL


def read_password(username: str, password_stdin: bool) -> str:
    """The password for `--username`: stdin, MOORAGE_PASSWORD, or a hidden prompt; never empty."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif os.environ.get("MOORAGE_PASSWORD"):
        password = os.environ["MOORAGE_PASSWORD"]
    elif sys.stdin.isatty():
        password = typer.prompt(f"Password for {username}", hide_input=True, err=True, default="", show_default=False)
    else:
        raise CliError(
            f"no password for {username}: no terminal to ask on",
            USAGE,
            hint="pipe it to --password-stdin or set MOORAGE_PASSWORD",
        )
    if not password:
        raise CliError(f"an empty password for {username} was given; refusing to send it", USAGE)
    return password


def resolve_credential(
    url: str, username: str | None, password_stdin: bool, store: LoginStore | None = None
) -> Credential | None:
    if password_stdin and not username:
        raise CliError("--password-stdin needs --username (or MOORAGE_USERNAME)", USAGE)
    if username:
        return Credential(username, read_password(username, password_stdin), "--username")
    parts = urlsplit(url)
    if parts.username:
        if not parts.password:
            raise CliError(f"{masked(url)} names a user but no password", USAGE)
        return Credential(unquote(parts.username), unquote(parts.password), "the URL")
    try:
        login = (store or LoginStore()).find(url)
    except LoginStoreError as error:
        raise CliError(str(error), USAGE, hint="remove the file and run `moorage login` again") from None
    if login is None:
        return None
    return stored_credential(login)


def stored_credential(login: StoredLogin) -> Credential:
    if login.kind == "refresh token":
        raise CliError(
            f"the stored login for {login.url} is a refresh token from `docker login`, which only registry "
            "clients can use",
            LOGIN_NEEDED,
            hint=f"run `moorage login {login.url}`",
        )
    if login.expired():
        at = login.expires_at.isoformat(timespec="seconds") if login.expires_at else "?"
        raise CliError(
            f"your login to {login.url} as {login.username} expired at {at}",
            LOGIN_NEEDED,
            hint=f"run `moorage login {login.url}`",
        )
    until = f", expires {login.expires_at.astimezone(UTC).isoformat(timespec='seconds')}" if login.expires_at else ""
    return Credential(login.username, login.secret, f"stored login ({login.kind}{until})", stored=True)


def connect(url: str | None, username: str | None, password_stdin: bool, verbose: bool) -> Registry:
    """The registry a command talks to, signed in as resolved above."""
    resolved = resolve_url(url)
    return Registry(normalise(resolved), resolve_credential(resolved, username, password_stdin), verbose)


_CONNECTION_PARAMETERS = [
    inspect.Parameter("url", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=UrlOption),
    inspect.Parameter("username", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=UsernameOption),
    inspect.Parameter("password_stdin", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=PasswordStdinOption),
    inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=VerboseOption),
]


def connected(function: Callable[..., T]) -> Callable[..., T]:
    """Give a command the connection options; it receives the signed-in `Registry` as `registry`.

    The wrapper's signature is the command's own without `registry`, plus `--url`, `--username`,
    `--password-stdin` and `--verbose`, so typer builds the same options for every command.
    """
    signature = inspect.signature(function, eval_str=True)
    own = [parameter for name, parameter in signature.parameters.items() if name != "registry"]
    own = [parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY) for parameter in own]

    @functools.wraps(function)
    @reported
    def command(**kwargs: Any) -> T:
        options = {parameter.name: kwargs.pop(parameter.name) for parameter in _CONNECTION_PARAMETERS}
        with connect(**options) as registry:
            return function(registry=registry, **kwargs)

    parameters = own + _CONNECTION_PARAMETERS
    command.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
    command.__annotations__["return"] = signature.return_annotation
    return command
