"""`moorage users|tokens|robots|orgs|teams|grants|login-password`: accounts over the management API.

All talk to a running registry over HTTP and sign in the one way every command does (see
`connection.py`: `--username` with `--password-stdin`, MOORAGE_USERNAME/MOORAGE_PASSWORD, or the
stored `moorage login`). Secrets the server shows once (tokens, robot secrets, login passwords)
are printed once to stdout and nowhere else.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from moorage.cli.client import Registry
from moorage.cli.connection import connected
from moorage.cli.errors import USAGE, CliError
from moorage.cli.output import JsonOption, emit, table

users_app = typer.Typer(help="Users (registry admins).", no_args_is_help=True)
tokens_app = typer.Typer(help="Your personal access tokens.", no_args_is_help=True)
robots_app = typer.Typer(help="Robot accounts of a namespace.", no_args_is_help=True)
orgs_app = typer.Typer(help="Organisations.", no_args_is_help=True)
teams_app = typer.Typer(help="Teams of an organisation.", no_args_is_help=True)
grants_app = typer.Typer(help="Roles on repositories and namespaces.", no_args_is_help=True)

Scopes = Annotated[list[str], typer.Option("--scope", "-s", help="pull, push, delete or admin (repeatable).")]
Repositories = Annotated[
    list[str] | None, typer.Option("--repository", "-r", help="NAME, NAMESPACE/* or * (repeatable; default: all).")
]
ExpiresDays = Annotated[float | None, typer.Option("--expires-in-days", help="Lifetime in days (default 90).")]


def _scoped(scopes: list[str], repositories: list[str] | None, expires: float | None) -> dict[str, Any]:
    body: dict[str, Any] = {"scopes": scopes}
    if repositories:
        body["repositories"] = repositories
    if expires is not None:
        body["expires_in_days"] = expires
    return body


@connected
def login_password(
    registry: Registry,
    lifetime_hours: Annotated[float | None, typer.Option(help="Validity (default: the server's, 12 h).")] = None,
) -> None:
    """Print a short-lived password for `podman login --password-stdin` (like `aws ecr get-login-password`)."""
    body = {"lifetime_hours": lifetime_hours} if lifetime_hours else None
    typer.echo(registry.call("POST", "/login-password", json=body)["password"])


# --- users --------------------------------------------------------------------------------------


@users_app.command("list")
@connected
def users_list(registry: Registry, as_json: JsonOption = False) -> None:
    """List users."""
    table(registry.call("GET", "/users"), ["name", "admin", "disabled", "created_at"], as_json)


@users_app.command("create")
@connected
def users_create(
    registry: Registry,
    name: str,
    new_password: Annotated[
        str,
        typer.Option(
            "--new-password", envvar="MOORAGE_NEW_PASSWORD", prompt=True, hide_input=True, confirmation_prompt=True
        ),
    ],
    admin: Annotated[bool, typer.Option("--admin", help="A registry administrator.")] = False,
) -> None:
    """Create a user."""
    registry.call("POST", "/users", json={"name": name, "password": new_password, "admin": admin})
    typer.echo(f"created user {name}")


@users_app.command("set-password")
@connected
def users_set_password(
    registry: Registry,
    name: str,
    new_password: Annotated[
        str,
        typer.Option(
            "--new-password", envvar="MOORAGE_NEW_PASSWORD", prompt=True, hide_input=True, confirmation_prompt=True
        ),
    ],
) -> None:
    """Change a password (your own, or anyone's as an admin)."""
    registry.call("PATCH", f"/users/{name}", json={"password": new_password})
    typer.echo(f"password of {name} changed")


@users_app.command("disable")
@connected
def users_disable(
    registry: Registry,
    name: str,
    enable: Annotated[bool, typer.Option("--enable", help="Enable again.")] = False,
) -> None:
    """Disable (or --enable) a user: their passwords and tokens stop working."""
    registry.call("PATCH", f"/users/{name}", json={"disabled": not enable})
    typer.echo(f"{name} {'enabled' if enable else 'disabled'}")


@users_app.command("delete")
@connected
def users_delete(registry: Registry, name: str) -> None:
    """Delete a user with their tokens and roles."""
    registry.call("DELETE", f"/users/{name}")
    typer.echo(f"deleted user {name}")


@users_app.command("revoke-sessions")
@connected
def users_revoke_sessions(registry: Registry, name: str) -> None:
    """End every login password and refresh token of a user at once (registry admins)."""
    registry.call("POST", f"/users/{name}/revoke-sessions")
    typer.echo(f"revoked the sessions of {name}")


# --- personal access tokens ---------------------------------------------------------------------------


@tokens_app.command("list")
@connected
def tokens_list(registry: Registry, as_json: JsonOption = False) -> None:
    """List your tokens (never their secrets)."""
    rows = registry.call("GET", f"/users/{registry.user()}/tokens")
    table(rows, ["id", "name", "grants", "expires_at", "revoked_at", "last_used_at"], as_json)


@tokens_app.command("create")
@connected
def tokens_create(
    registry: Registry,
    name: str,
    scope: Scopes,
    repository: Repositories = None,
    expires_in_days: ExpiresDays = None,
    as_json: JsonOption = False,
) -> None:
    """Create a token; its secret is printed once (with --json: its id, scopes and expiry too)."""
    body = {"name": name, **_scoped(scope, repository, expires_in_days)}
    created = registry.call("POST", f"/users/{registry.user()}/tokens", json=body)
    if as_json:
        emit(created, True)
        return
    typer.echo(created["token"])


@tokens_app.command("revoke")
@connected
def tokens_revoke(registry: Registry, token_id: str) -> None:
    """Revoke a token by id."""
    registry.call("DELETE", f"/users/{registry.user()}/tokens/{token_id}")
    typer.echo(f"revoked {token_id}")


# --- robots ---------------------------------------------------------------------------------------


@robots_app.command("list")
@connected
def robots_list(registry: Registry, namespace: str, as_json: JsonOption = False) -> None:
    """List the robots of a namespace."""
    rows = registry.call("GET", f"/namespaces/{namespace}/robots")
    table(rows, ["username", "grants", "expires_at", "last_used_at"], as_json)


@robots_app.command("create")
@connected
def robots_create(
    registry: Registry,
    namespace: str,
    name: str,
    scope: Scopes,
    repository: Repositories = None,
    expires_in_days: ExpiresDays = None,
    as_json: JsonOption = False,
) -> None:
    """Create a robot; prints `USERNAME SECRET` once (with --json: the whole record)."""
    body = {"name": name, **_scoped(scope, repository, expires_in_days)}
    created = registry.call("POST", f"/namespaces/{namespace}/robots", json=body)
    if as_json:
        emit(created, True)
        return
    typer.echo(f"{created['username']} {created['secret']}")


@robots_app.command("set-grants")
@connected
def robots_set_grants(
    registry: Registry,
    namespace: str,
    name: str,
    scope: Scopes,
    repository: Repositories = None,
    as_json: JsonOption = False,
) -> None:
    """Replace what a robot may do (its secret stays the same)."""
    body: dict[str, Any] = {"scopes": scope, "repositories": repository or []}
    robot = registry.call("PUT", f"/namespaces/{namespace}/robots/{name}/grants", json=body)
    if as_json:
        emit(robot, True)
        return
    typer.echo(f"robot {namespace}+{name} now has {','.join(scope)} on {', '.join(repository or ['all'])}")


@robots_app.command("rotate")
@connected
def robots_rotate(registry: Registry, namespace: str, name: str, as_json: JsonOption = False) -> None:
    """Replace a robot's secret; prints the new one once (with --json: the whole answer)."""
    rotated = registry.call("POST", f"/namespaces/{namespace}/robots/{name}/secret")
    if as_json:
        emit(rotated, True)
        return
    typer.echo(rotated["secret"])


@robots_app.command("delete")
@connected
def robots_delete(registry: Registry, namespace: str, name: str) -> None:
    """Delete a robot."""
    registry.call("DELETE", f"/namespaces/{namespace}/robots/{name}")
    typer.echo(f"deleted robot {namespace}+{name}")


# --- organisations and teams ---------------------------------------------------------------------------


@orgs_app.command("list")
@connected
def orgs_list(registry: Registry, as_json: JsonOption = False) -> None:
    """List organisations."""
    table(registry.call("GET", "/orgs"), ["name", "created_at"], as_json)


@orgs_app.command("create")
@connected
def orgs_create(registry: Registry, name: str) -> None:
    """Create an organisation (you become its admin)."""
    registry.call("POST", "/orgs", json={"name": name})
    typer.echo(f"created organisation {name}")


@orgs_app.command("delete")
@connected
def orgs_delete(registry: Registry, name: str) -> None:
    """Delete an organisation and its teams."""
    registry.call("DELETE", f"/orgs/{name}")
    typer.echo(f"deleted organisation {name}")


@teams_app.command("list")
@connected
def teams_list(registry: Registry, org: str, as_json: JsonOption = False) -> None:
    """List an organisation's teams and members."""
    table(registry.call("GET", f"/orgs/{org}/teams"), ["name", "members"], as_json)


@teams_app.command("create")
@connected
def teams_create(registry: Registry, org: str, name: str) -> None:
    """Create a team."""
    registry.call("POST", f"/orgs/{org}/teams", json={"name": name})
    typer.echo(f"created team {org}/{name}")


@teams_app.command("delete")
@connected
def teams_delete(registry: Registry, org: str, name: str) -> None:
    """Delete a team."""
    registry.call("DELETE", f"/orgs/{org}/teams/{name}")
    typer.echo(f"deleted team {org}/{name}")


@teams_app.command("add-member")
@connected
def teams_add_member(registry: Registry, org: str, team: str, user: str) -> None:
    """Add a user to a team."""
    registry.call("PUT", f"/orgs/{org}/teams/{team}/members/{user}")
    typer.echo(f"{user} is a member of {org}/{team}")


@teams_app.command("remove-member")
@connected
def teams_remove_member(registry: Registry, org: str, team: str, user: str) -> None:
    """Remove a user from a team."""
    registry.call("DELETE", f"/orgs/{org}/teams/{team}/members/{user}")
    typer.echo(f"{user} left {org}/{team}")


# --- grants and keys ----------------------------------------------------------------------------------


def _subject(subject: str) -> tuple[str, str]:
    """`user:NAME`, `team:ORG/TEAM`, `robot:NAMESPACE+NAME` or `anonymous`."""
    if subject == "anonymous":
        return "anonymous", "*"
    kind, separator, name = subject.partition(":")
    if kind == "robot" and "+" not in name.strip("+"):
        raise CliError(f"{subject}: a robot is named robot:NAMESPACE+NAME", USAGE)
    if not separator or kind not in ("user", "team", "robot") or not name:
        raise CliError(f"{subject}: use user:NAME, team:ORG/TEAM, robot:NAMESPACE+NAME or anonymous", USAGE)
    return kind, name


@grants_app.command("list")
@connected
def grants_list(
    registry: Registry,
    namespace: Annotated[str | None, typer.Option(help="Only this namespace.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List role bindings."""
    rows = registry.call("GET", "/grants", params={"namespace": namespace} if namespace else None)
    table(rows, ["subject_kind", "subject", "repository_pattern", "role"], as_json)


@grants_app.command("add")
@connected
def grants_add(registry: Registry, subject: str, pattern: str, role: str) -> None:
    """Give SUBJECT ROLE (read, write, delete, admin) on PATTERN.

    SUBJECT is user:NAME, team:ORG/TEAM, robot:NAMESPACE+NAME or anonymous.
    """
    kind, name = _subject(subject)
    body = {"subject_kind": kind, "subject": name, "repository_pattern": pattern, "role": role}
    registry.call("PUT", "/grants", json=body)
    typer.echo(f"{subject} has {role} on {pattern}")


@grants_app.command("remove")
@connected
def grants_remove(registry: Registry, subject: str, pattern: str) -> None:
    """Take SUBJECT's role on PATTERN away."""
    kind, name = _subject(subject)
    params = {"subject_kind": kind, "subject": name, "repository_pattern": pattern}
    registry.call("DELETE", "/grants", params=params)
    typer.echo(f"{subject} has no role on {pattern} any more")


def register(app: typer.Typer) -> None:
    """Add the account commands to the `moorage` command line."""
    app.command("login-password")(login_password)
    for name, sub in (
        ("users", users_app),
        ("tokens", tokens_app),
        ("robots", robots_app),
        ("orgs", orgs_app),
        ("teams", teams_app),
        ("grants", grants_app),
    ):
        app.add_typer(sub, name=name)
