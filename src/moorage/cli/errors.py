"""How every `moorage` command fails: one line on stderr, a hint when one helps, a documented exit code.

    moorage: error: <what went wrong> (HTTP 401)
    hint: run `moorage login http://127.0.0.1:5000`

Exit codes (docs/cli.md): 0 done; 1 the registry refused or failed the request; 2 usage (a wrong
option, an unreadable or invalid input file, a password needed and no terminal to ask on); 3 the
registry cannot be reached (refused, dropped or timed-out connection); 4 the stored login has expired
or is missing where one is needed: run `moorage login`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer

OK = 0
REFUSED = 1
USAGE = 2
UNREACHABLE = 3
LOGIN_NEEDED = 4


T = TypeVar("T")


class CliError(Exception):
    """A failure reported to the user in the one format, ending the command with `exit_code`."""

    def __init__(self, message: str, exit_code: int = REFUSED, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.hint = hint

    def show(self) -> None:
        typer.echo(f"moorage: error: {self.message}", err=True)
        if self.hint:
            typer.echo(f"hint: {self.hint}", err=True)


def reported(function: Callable[..., T]) -> Callable[..., T]:
    """Let a command raise `CliError`: it is printed in the one format and the command exits with its code."""

    @functools.wraps(function)
    def command(*args: Any, **kwargs: Any) -> T:
        try:
            return function(*args, **kwargs)
        except CliError as error:
            error.show()
            raise typer.Exit(error.exit_code) from None

    return command
