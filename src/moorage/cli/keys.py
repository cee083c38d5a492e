"""`moorage keys list|rotate|retire`: the registry's token signing keys (registry admins)."""

from __future__ import annotations

import typer

from moorage.cli.client import Registry
from moorage.cli.connection import connected
from moorage.cli.output import JsonOption, table

keys_app = typer.Typer(help="Token signing keys (registry admins).", no_args_is_help=True)

KEY_COLUMNS = ("kid", "algorithm", "created_at", "signs_until", "verifies_until", "state")


@keys_app.command("list")
@connected
def keys_list(registry: Registry, as_json: JsonOption = False) -> None:
    """List signing keys: which one signs, which still verify, which are retired."""
    table(registry.call("GET", "/system/signing-keys"), KEY_COLUMNS, as_json)


@keys_app.command("rotate")
@connected
def keys_rotate(registry: Registry) -> None:
    """Start signing tokens with a new key (tokens signed before stay valid until they expire)."""
    typer.echo(registry.call("POST", "/system/signing-keys/rotate")["kid"])


@keys_app.command("retire")
@connected
def keys_retire(registry: Registry, kid: str) -> None:
    """Stop trusting a key at once: tokens it signed no longer verify (for a leaked key).

    A kid that starts with "-" (keys made before moorage avoided them) goes after "--":
    moorage keys retire -- -wRD…
    """
    registry.call("POST", f"/system/signing-keys/{kid}/retire")
    typer.echo(f"retired key {kid}")
