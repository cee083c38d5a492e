"""What commands print: aligned tables for people, JSON for scripts (`--json`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

import typer

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


def emit(document: Any, as_json: bool, columns: Sequence[str] = (), rows: list[dict[str, Any]] | None = None) -> None:
    """JSON for scripts, else a plain aligned table of `rows` (or key: value lines of a document)."""
    if as_json:
        typer.echo(json.dumps(document, indent=2, default=str))
        return
    if rows is None:
        for key, value in document.items():
            shown = json.dumps(value) if isinstance(value, dict | list) else value
            typer.echo(f"{key + ':':<34} {shown}")
        return
    table(rows, columns)


def table(rows: list[dict[str, Any]], columns: Sequence[str], as_json: bool = False) -> None:
    """Rows as aligned columns under upper-case headings, or as JSON."""
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
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
        return ",".join(_cell(v) for v in value) or "-"
    if isinstance(value, dict):
        return " ".join(f"{k}={_cell(v)}" for k, v in value.items()) or "-"
    return str(value)
