"""A property-based fuzzer (schemathesis) finds no server error anywhere in the management API.

It reads the OpenAPI document the running server publishes and sends generated requests to every
operation (examples, boundary values, random data, stateful sequences); any 5xx fails the test.
It runs against a private server because it creates repositories and templates at random.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server import postgres_database, start_server


def schemathesis_command() -> list[str]:
    found = shutil.which("schemathesis") or str(Path(sys.executable).with_name("schemathesis"))
    if not Path(found).exists():
        if os.environ.get("CI"):
            raise AssertionError("schemathesis is not installed (pip install -r requirements.lock)")
        pytest.skip("schemathesis is not installed")
    return [found]


def run_schemathesis(url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [
        *schemathesis_command(),
        "run",
        f"{url}/api/v1/openapi.json",
        "--url",
        url,
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "15",
        "--seed",
        "20261127",
        "--generation-database",
        "none",
        "--no-color",
        # Datetime query parameters make the generator discard many examples; that is no server error.
        "--suppress-health-check=filter_too_much",
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_fuzzing_the_management_api_finds_no_server_error(backend: str, tmp_path: Path) -> None:
    """PostgreSQL is stricter than SQLite (32-bit integers, no NUL in text), so both are fuzzed."""
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(postgres_database()) if backend == "postgres" else None
        server = stack.enter_context(start_server(tmp_path / "data", database_url=database_url))
        result = run_schemathesis(server.url, tmp_path)
        log = server.log()
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, f"schemathesis found failures:\n{report}\n--- server log ---\n{log[-4000:]}"
    assert "passed" in result.stdout, report
    assert "Traceback" not in log, log[-4000:]
