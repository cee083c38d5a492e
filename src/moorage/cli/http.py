"""Talking to a running registry's management API from the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

import httpx
import typer

DEFAULT_URL = "http://127.0.0.1:5000"
UrlOption = Annotated[str, typer.Option("--url", envvar="MOORAGE_URL", help="The registry's base URL.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


class ManagementClient:
    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url.rstrip("/") + "/api/v1", timeout=60)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            typer.echo(f"error: cannot reach {self.client.base_url}: {error}", err=True)
            raise typer.Exit(2) from None
        if response.is_error:
            fail(response)
        return response.json() if response.content else None

    def stream_lines(self, path: str, params: dict[str, Any]) -> Iterator[str]:
        with self.client.stream("GET", path, params=params) as response:
            if response.is_error:
                response.read()
                fail(response)
            yield from response.iter_lines()


def fail(response: httpx.Response) -> None:
    """Print a problem-details error the way people read it, and exit non-zero."""
    try:
        problem = response.json()
        message = problem.get("detail") or problem.get("title")
        for error in problem.get("errors", []) or []:
            message += f"\n  {'.'.join(str(p) for p in error.get('loc', []))}: {error.get('msg')}"
    except (ValueError, AttributeError):
        message = response.text
    typer.echo(f"error ({response.status_code}): {message}", err=True)
    raise typer.Exit(1)


def emit(document: Any, as_json: bool, columns: Sequence[str] = (), rows: list[dict[str, Any]] | None = None) -> None:
    """JSON for scripts, else a plain aligned table of `rows` (or key: value lines of a document)."""
    if as_json:
        typer.echo(json.dumps(document, indent=2))
        return
    if rows is None:
        for key, value in document.items():
            shown = json.dumps(value) if isinstance(value, dict | list) else value
            typer.echo(f"{key + ':':<34} {shown}")
        return
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]
    typer.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for line in cells:
        typer.echo("  ".join(value.ljust(w) for value, w in zip(line, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "-"
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)
