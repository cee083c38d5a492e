"""`moorage users|tokens|robots|orgs|teams|grants|keys|login-password`: accounts over the management API.

All talk to a running registry over HTTP (`--url`, `--username`, `--password` or MOORAGE_URL,
MOORAGE_USERNAME, MOORAGE_PASSWORD). Secrets the server shows once (tokens, robot secrets, login
passwords) are printed once to stdout and nowhere else.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from moorage.cli.remote import DEFAULT_URL, JsonOption, PasswordOption, UrlOption, UserOption, call, table

users_app = typer.Typer(help="Users (registry admins).", no_args_is_help=True)
tokens_app = typer.Typer(help="Your personal access tokens.", no_args_is_help=True)
robots_app = typer.Typer(help="Robot accounts of a namespace.", no_args_is_help=True)
orgs_app = typer.Typer(help="Organisations.", no_args_is_help=True)
teams_app = typer.Typer(help="Teams of an organisation.", no_args_is_help=True)
grants_app = typer.Typer(help="Roles on repositories and namespaces.", no_args_is_help=True)
keys_app = typer.Typer(help="Token signing keys.", no_args_is_help=True)

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


def login_password(
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
    lifetime_hours: Annotated[float | None, typer.Option(help="Validity (default: the server's, 12 h).")] = None,
) -> None:
    """Print a short-lived password for `podman login --password-stdin` (like `aws ecr get-login-password`)."""
    body = {"lifetime_hours": lifetime_hours} if lifetime_hours else None
    typer.echo(call(url, username, password, "POST", "/login-password", body)["password"])


# --- users --------------------------------------------------------------------------------------


@users_app.command("list")
def users_list(
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
    as_json: JsonOption = False,
) -> None:
    """List users."""
    table(call(url, username, password, "GET", "/users"), ["name", "admin", "disabled", "created_at"], as_json)


@users_app.command("create")
def users_create(
    name: str,
    new_password: Annotated[
        str,
        typer.Option(
            "--new-password", envvar="MOORAGE_NEW_PASSWORD", prompt=True, hide_input=True, confirmation_prompt=True
        ),
    ],
    admin: Annotated[bool, typer.Option("--admin", help="A registry administrator.")] = False,
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
) -> None:
    """Create a user."""
    call(url, username, password, "POST", "/users", {"name": name, "password": new_password, "admin": admin})
    typer.echo(f"created user {name}")


@users_app.command("set-password")
def users_set_password(
    name: str,
    new_password: Annotated[
        str,
        typer.Option(
            "--new-password", envvar="MOORAGE_NEW_PASSWORD", prompt=True, hide_input=True, confirmation_prompt=True
        ),
    ],
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
) -> None:
    """Change a password (your own, or anyone's as an admin)."""
    call(url, username, password, "PATCH", f"/users/{name}", {"password": new_password})
    typer.echo(f"password of {name} changed")


@users_app.command("disable")
def users_disable(
    name: str,
    enable: Annotated[bool, typer.Option("--enable", help="Enable again.")] = False,
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
) -> None:
    """Disable (or --enable) a user: their passwords and tokens stop working."""
    call(url, username, password, "PATCH", f"/users/{name}", {"disabled": not enable})
    typer.echo(f"{name} {'enabled' if enable else 'disabled'}")


@users_app.command("delete")
def users_delete(
    name: str, url: UrlOption = DEFAULT_URL, username: UserOption = None, password: PasswordOption = None
) -> None:
    """Delete a user with their tokens and roles."""
    call(url, username, password, "DELETE", f"/users/{name}")
    typer.echo(f"deleted user {name}")


# --- personal access tokens ---------------------------------------------------------------------------


@tokens_app.command("list")
def tokens_list(
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
    as_json: JsonOption = False,
) -> None:
    """List your tokens (never their secrets)."""
    rows = call(url, username, password, "GET", f"/users/{username}/tokens")
    table(rows, ["id", "name", "grants", "expires_at", "revoked_at", "last_used_at"], as_json)


@tokens_app.command("create")
def tokens_create(
    name: str,
    scope: Scopes,
    repository: Repositories = None,
    expires_in_days: ExpiresDays = None,
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
) -> None:
    """Create a token; its secret is printed once."""
    body = {"name": name, **_scoped(scope, repository, expires_in_days)}
    created = call(url, username, password, "POST", f"/users/{username}/tokens", body)
    typer.echo(created["token"])


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: str, url: UrlOption = DEFAULT_URL, username: UserOption = None, password: PasswordOption = None
) -> None:
    """Revoke a token by id."""
    call(url, username, password, "DELETE", f"/users/{username}/tokens/{token_id}")
    typer.echo(f"revoked {token_id}")


# --- robots ---------------------------------------------------------------------------------------


@robots_app.command("list")
def robots_list(
    namespace: str,
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the robots of a namespace."""
    rows = call(url, username, password, "GET", f"/namespaces/{namespace}/robots")
    table(rows, ["username", "grants", "expires_at", "last_used_at"], as_json)


@robots_app.command("create")
def robots_create(
    namespace: str,
    name: str,
    scope: Scopes,
    repository: Repositories = None,
    expires_in_days: ExpiresDays = None,
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
) -> None:
    """Create a robot; prints `USERNAME SECRET` once."""
    body = {"name": name, **_scoped(scope, repository, expires_in_days)}
    created = call(url, username, password, "POST", f"/namespaces/{namespace}/robots", body)
    typer.echo(f"{created['username']} {created['secret']}")


@robots_app.command("rotate")
def robots_rotate(
    namespace: str,
    name: str,
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
) -> None:
    """Replace a robot's secret; prints the new one once."""
    typer.echo(call(url, username, password, "POST", f"/namespaces/{namespace}/robots/{name}/secret")["secret"])


@robots_app.command("delete")
def robots_delete(
    namespace: str,
    name: str,
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
) -> None:
    """Delete a robot."""
    call(url, username, password, "DELETE", f"/namespaces/{namespace}/robots/{name}")
    typer.echo(f"deleted robot {namespace}+{name}")


# --- organisations and teams ---------------------------------------------------------------------------


@orgs_app.command("list")
def orgs_list(
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
    as_json: JsonOption = False,
) -> None:
    """List organisations."""
    table(call(url, username, password, "GET", "/orgs"), ["name", "created_at"], as_json)


@orgs_app.command("create")
def orgs_create(
    name: str, url: UrlOption = DEFAULT_URL, username: UserOption = None, password: PasswordOption = None
) -> None:
    """Create an organisation (you become its admin)."""
    call(url, username, password, "POST", "/orgs", {"name": name})
    typer.echo(f"created organisation {name}")


@orgs_app.command("delete")
def orgs_delete(
    name: str, url: UrlOption = DEFAULT_URL, username: UserOption = None, password: PasswordOption = None
) -> None:
    """Delete an organisation and its teams."""
    call(url, username, password, "DELETE", f"/orgs/{name}")
    typer.echo(f"deleted organisation {name}")


@teams_app.command("list")
def teams_list(
    org: str,
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
    as_json: JsonOption = False,
) -> None:
    """List an organisation's teams and members."""
    table(call(url, username, password, "GET", f"/orgs/{org}/teams"), ["name", "members"], as_json)


@teams_app.command("create")
def teams_create(
    org: str, name: str, url: UrlOption = DEFAULT_URL, username: UserOption = None, password: PasswordOption = None
) -> None:
    """Create a team."""
    call(url, username, password, "POST", f"/orgs/{org}/teams", {"name": name})
    typer.echo(f"created team {org}/{name}")


@teams_app.command("delete")
def teams_delete(
    org: str, name: str, url: UrlOption = DEFAULT_URL, username: UserOption = None, password: PasswordOption = None
) -> None:
    """Delete a team."""
    call(url, username, password, "DELETE", f"/orgs/{org}/teams/{name}")
    typer.echo(f"deleted team {org}/{name}")


@teams_app.command("add-member")
def teams_add_member(
    org: str,
    team: str,
    user: str,
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
) -> None:
    """Add a user to a team."""
    call(url, username, password, "PUT", f"/orgs/{org}/teams/{team}/members/{user}")
    typer.echo(f"{user} is a member of {org}/{team}")


@teams_app.command("remove-member")
def teams_remove_member(
    org: str,
    team: str,
    user: str,
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
) -> None:
    """Remove a user from a team."""
    call(url, username, password, "DELETE", f"/orgs/{org}/teams/{team}/members/{user}")
    typer.echo(f"{user} left {org}/{team}")


# --- grants and keys ----------------------------------------------------------------------------------


def _subject(subject: str) -> tuple[str, str]:
    """`user:NAME`, `team:ORG/TEAM` or `anonymous`."""
    if subject == "anonymous":
        return "anonymous", "*"
    kind, separator, name = subject.partition(":")
    if not separator or kind not in ("user", "team") or not name:
        raise typer.BadParameter("use user:NAME, team:ORG/TEAM or anonymous", param_hint="SUBJECT")
    return kind, name


@grants_app.command("list")
def grants_list(
    namespace: Annotated[str | None, typer.Option(help="Only this namespace.")] = None,
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
    as_json: JsonOption = False,
) -> None:
    """List role bindings."""
    rows = call(url, username, password, "GET", "/grants", params={"namespace": namespace} if namespace else None)
    table(rows, ["subject_kind", "subject", "repository_pattern", "role"], as_json)


@grants_app.command("add")
def grants_add(
    subject: str,
    pattern: str,
    role: str,
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
) -> None:
    """Give SUBJECT (user:NAME, team:ORG/TEAM, anonymous) ROLE (read, write, delete, admin) on PATTERN."""
    kind, name = _subject(subject)
    body = {"subject_kind": kind, "subject": name, "repository_pattern": pattern, "role": role}
    call(url, username, password, "PUT", "/grants", body)
    typer.echo(f"{subject} has {role} on {pattern}")


@grants_app.command("remove")
def grants_remove(
    subject: str,
    pattern: str,
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
) -> None:
    """Take SUBJECT's role on PATTERN away."""
    kind, name = _subject(subject)
    params = {"subject_kind": kind, "subject": name, "repository_pattern": pattern}
    call(url, username, password, "DELETE", "/grants", params=params)
    typer.echo(f"{subject} has no role on {pattern} any more")


@keys_app.command("rotate")
def keys_rotate(url: UrlOption = DEFAULT_URL, username: UserOption = None, password: PasswordOption = None) -> None:
    """Start signing tokens with a new key (tokens signed before stay valid until they expire)."""
    typer.echo(call(url, username, password, "POST", "/system/signing-keys/rotate")["kid"])


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
        ("keys", keys_app),
    ):
        app.add_typer(sub, name=name)
