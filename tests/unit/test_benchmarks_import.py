"""Every benchmark still imports: a benchmark that rots unnoticed (an import of something renamed)
cannot measure anything when it is next needed."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCHMARKS = sorted(
    path.stem for path in (Path(__file__).parents[2] / "benchmarks").glob("*.py") if path.stem != "__init__"
)


@pytest.mark.parametrize("module", BENCHMARKS)
def test_benchmark_module_imports(module: str) -> None:
    imported = importlib.import_module(f"benchmarks.{module}")
    assert imported.__doc__, f"benchmarks/{module}.py says what it measures and how to run it"
