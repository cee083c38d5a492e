"""A property-based fuzzer (schemathesis) finds no server error anywhere in the management API.

It reads the OpenAPI document the running server publishes and sends generated requests to every
operation (examples, boundary values, random data, stateful sequences); any 5xx fails the test.
It runs against a private server because it creates repositories and templates at random.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import StartRegistry


def schemathesis_command() -> list[str]:
    found = shutil.which("schemathesis") or str(Path(sys.executable).with_name("schemathesis"))
    if not Path(found).exists():
        if os.environ.get("CI"):
            raise AssertionError("schemathesis is not installed (pip install -r requirements.lock)")
        pytest.skip("schemathesis is not installed")
    return [found]


def test_fuzzing_the_management_api_finds_no_server_error(start_registry: StartRegistry, tmp_path: Path) -> None:
    server = start_registry()
    command = [
        *schemathesis_command(),
        "run",
        f"{server.url}/api/v1/openapi.json",
        "--url",
        server.url,
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "25",
        "--seed",
        "20261127",
        "--generation-database",
        "none",
        "--no-color",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, f"schemathesis found failures:\n{report}\n--- server log ---\n{server.log()[-4000:]}"
    assert "passed" in result.stdout, report
    assert "Traceback" not in server.log(), server.log()[-4000:]
