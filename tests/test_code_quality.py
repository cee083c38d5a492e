"""The code stays as DESIGN.md asks: lint-clean, `mypy --strict` clean, and layered."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "src", "tests", "benchmarks"],
        ["ruff", "format", "--check", "src"],
        ["mypy", "src"],
        ["lint-imports"],
    ],
    ids=["ruff", "ruff-format", "mypy-strict", "layers"],
)
def test_static_check_passes(command: list[str]) -> None:
    executable = Path(sys.executable).parent / command[0]
    result = subprocess.run([str(executable), *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
