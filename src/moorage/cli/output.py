"""What commands print: aligned tables for people, JSON for scripts (`--json`)."""

from __future__ import annotations

import json
import shutil
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


def table(
    rows: list[dict[str, Any]], columns: Sequence[str], as_json: bool = False, shrinkable: Sequence[str] = ()
) -> None:
    """Rows as aligned columns under upper-case headings, or as JSON.

    Columns named in `shrinkable` are cut (ending in `…`) as far as needed for the table to fit the
    terminal's width (`COLUMNS`, else the terminal's, else 80).
    """
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]
    if shrinkable:
        widths = _fitted(widths, [columns.index(c) for c in shrinkable], shutil.get_terminal_size().columns)
        cells = [[_cut(value, widths[i]) for i, value in enumerate(line)] for line in cells]
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


def _fitted(widths: list[int], shrinkable: list[int], room: int, narrowest: int = 8) -> list[int]:
    """Narrow the widest shrinkable column, one character at a time, until the row fits `room`."""
    widths = list(widths)
    while sum(widths) + 2 * (len(widths) - 1) > room:
        candidates = [i for i in shrinkable if widths[i] > narrowest]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: widths[i])
        widths[widest] -= 1
    return widths


def _cut(value: str, width: int) -> str:
    return value if len(value) <= width else value[: max(width - 1, 0)] + "…"


def short_digest(digest: str | None) -> str | None:
    """`sha256:` and the first 12 hex digits, as `docker images` shortens ids; enough to tell images apart."""
    if digest is None or ":" not in digest:
        return digest
    algorithm, hexadecimal = digest.split(":", 1)
    return f"{algorithm}:{hexadecimal[:12]}"
