"""`moorage cache-rule`: the pull-through cache's rules (registry admins).

`--username` and `--password-stdin` sign the command in (every command has them), so the upstream's
credentials are `--upstream-username` and `--upstream-password-stdin`; the password is read from
stdin only, never from an argument (it would sit in the shell history and `ps`).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from moorage.cli.client import Registry
from moorage.cli.connection import connected
from moorage.cli.errors import USAGE, CliError
from moorage.cli.output import JsonOption, emit, table

cache_rule_app = typer.Typer(
    help="Pull-through cache rules: cache an upstream registry under a local prefix.", no_args_is_help=True
)

COLUMNS = ("prefix", "upstream_url", "upstream_prefix", "username", "has_credentials", "updated_at")
Prefix = Annotated[str, typer.Argument(help="The local prefix; ROOT for a transparent mirror of one upstream.")]
UpstreamPrefix = Annotated[
    str | None, typer.Option("--upstream-prefix", help="The namespace upstream that local names are under.")
]
UpstreamUsername = Annotated[str | None, typer.Option("--upstream-username", help="A user of the upstream registry.")]
UpstreamPasswordStdin = Annotated[
    bool, typer.Option("--upstream-password-stdin", help="Read the upstream password (or token) from stdin.")
]


def _upstream_password(read: bool) -> str | None:
    if not read:
        return None
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CliError("--upstream-password-stdin read an empty password", USAGE)
    return password


@cache_rule_app.command("create")
@connected
def create(
    registry: Registry,
    prefix: Annotated[str, typer.Option("--prefix", help="Local prefix (`docker-hub`); ROOT: a transparent mirror.")],
    upstream: Annotated[str, typer.Option("--upstream", help="The upstream's URL: https://registry-1.docker.io")],
    upstream_prefix: UpstreamPrefix = None,
    upstream_username: UpstreamUsername = None,
    upstream_password_stdin: UpstreamPasswordStdin = False,
    as_json: JsonOption = False,
) -> None:
    """Cache an upstream registry under a prefix (claims the namespace; refused over one in use)."""
    body: dict[str, Any] = {"prefix": prefix, "upstream_url": upstream, "upstream_prefix": upstream_prefix}
    if upstream_username is not None or upstream_password_stdin:
        body["username"] = upstream_username
        body["password"] = _upstream_password(upstream_password_stdin)
    emit(registry.call("POST", "/cache-rules", json=body), as_json)


@cache_rule_app.command("list")
@connected
def list_rules(registry: Registry, as_json: JsonOption = False) -> None:
    """Every cache rule (passwords are never shown: `has_credentials` says whether one is set)."""
    table(registry.call("GET", "/cache-rules"), COLUMNS, as_json)


@cache_rule_app.command("show")
@connected
def show(registry: Registry, prefix: Prefix, as_json: JsonOption = False) -> None:
    """One cache rule."""
    emit(registry.call("GET", f"/cache-rules/{prefix}"), as_json)


@cache_rule_app.command("update")
@connected
def update(
    registry: Registry,
    prefix: Prefix,
    upstream: Annotated[str | None, typer.Option("--upstream", help="A new upstream URL.")] = None,
    upstream_prefix: UpstreamPrefix = None,
    upstream_username: UpstreamUsername = None,
    upstream_password_stdin: UpstreamPasswordStdin = False,
    clear_credentials: Annotated[
        bool, typer.Option("--clear-credentials", help="Pull from the upstream anonymously from now on.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Change a rule's upstream, or rotate its credentials (`--upstream-password-stdin`)."""
    body: dict[str, Any] = {"clear_credentials": clear_credentials}
    if upstream is not None:
        body["upstream_url"] = upstream
    if upstream_prefix is not None:
        body["upstream_prefix"] = upstream_prefix
    if upstream_username is not None:
        body["username"] = upstream_username
    password = _upstream_password(upstream_password_stdin)
    if password is not None:
        body["password"] = password
    emit(registry.call("PUT", f"/cache-rules/{prefix}", json=body), as_json)


@cache_rule_app.command("delete")
@connected
def delete(registry: Registry, prefix: Prefix) -> None:
    """Delete a rule; the repositories it cached stay (as ordinary repositories) until deleted."""
    registry.call("DELETE", f"/cache-rules/{prefix}")
    typer.echo(f"deleted the cache rule for {prefix}")
