"""Reading what the user hands a command (JSON files), failing in the one error format, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from moorage.cli.errors import USAGE, CliError


def json_file(path: Path, option: str) -> Any:
    """The JSON document in `path`; a missing, unreadable or invalid file is a usage error (exit 2)."""
    try:
        text = path.read_text()
    except OSError as error:
        raise CliError(f"{option}: cannot read {path}: {error.strerror or error}", USAGE) from None
    try:
        return json.loads(text)
    except ValueError as error:
        raise CliError(f"{option}: {path} is not valid JSON: {error}", USAGE) from None
