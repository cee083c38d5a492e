"""Calling the management API from the command line: connection options and error reporting."""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
import typer

DEFAULT_URL = "http://127.0.0.1:5000"

UrlOption = Annotated[str, typer.Option("--url", envvar="MOORAGE_URL", help="The registry's base URL.")]
UserOption = Annotated[str | None, typer.Option("--username", "-u", envvar="MOORAGE_USERNAME", help="Who you are.")]
PasswordOption = Annotated[
    str | None,
    typer.Option(
        "--password", "-p", envvar="MOORAGE_PASSWORD", help="Password or token (prefer the environment variable)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def call(
    url: str,
    username: str | None,
    password: str | None,
    method: str,
    path: str,
    body: Any = None,
    params: dict[str, str] | None = None,
) -> Any:
    """One request to `/api/v1<path>`; a problem response exits with its detail on stderr."""
    auth = (username, password or "") if username else None
    with httpx.Client(base_url=url.rstrip("/") + "/api/v1", auth=auth, timeout=30) as client:
        try:
            response = client.request(method, path, json=body, params=params)
        except httpx.HTTPError as error:
            typer.echo(f"moorage: cannot reach {url}: {error}", err=True)
            raise typer.Exit(2) from None
    if response.status_code >= 400:
        try:
            problem = response.json()
            message = problem.get("detail") or problem.get("title")
        except ValueError:
            message = response.text
        typer.echo(f"moorage: {response.status_code}: {message}", err=True)
        raise typer.Exit(1)
    return response.json() if response.content else None


def table(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    """Rows as aligned columns for people, or as JSON for scripts."""
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column)] + [len(line[i]) for line in cells]) for i, column in enumerate(columns)]
    typer.echo("  ".join(column.upper().ljust(width) for column, width in zip(columns, widths, strict=True)).rstrip())
    for line in cells:
        typer.echo("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(_cell(item) for item in value)
    if isinstance(value, dict):
        return " ".join(f"{key}={_cell(item)}" for key, item in value.items())
    return str(value)
