"""`moorage admin …`: local commands on the metadata store, for when nobody can log in any more."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from moorage.auth.accounts import Accounts

admin_app = typer.Typer(help="Local administration (runs against the metadata store directly).", no_args_is_help=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Settings file (TOML); default: ./moorage.toml if present.")
]
NewPassword = Annotated[
    str,
    typer.Option(
        "--new-password", envvar="MOORAGE_NEW_PASSWORD", prompt=True, hide_input=True, confirmation_prompt=True
    ),
]


def _accounts(config: Path | None) -> Accounts:
    from moorage.app_auth import local_accounts
    from moorage.cli.main import _settings

    return local_accounts(_settings(config))


@admin_app.command("reset-password")
def reset_password(name: str, new_password: NewPassword, config: ConfigOption = None) -> None:
    """Set a user's password and enable the user."""
    from moorage.auth.access_tokens import NotFound

    try:
        _accounts(config).update_user(name, password=new_password, disabled=False)
    except (NotFound, ValueError) as error:
        typer.echo(f"moorage: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"password of {name} reset")


@admin_app.command("create-user")
def create_user(
    name: str,
    new_password: NewPassword,
    admin: Annotated[bool, typer.Option("--admin", help="A registry administrator.")] = False,
    config: ConfigOption = None,
) -> None:
    """Create a user directly in the metadata store."""
    from moorage.auth.access_tokens import Conflict

    try:
        _accounts(config).create_user(name, new_password, admin)
    except (Conflict, ValueError) as error:
        typer.echo(f"moorage: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created user {name}")
