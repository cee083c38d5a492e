"""The test command brings up the PostgreSQL it needs: on a machine where none answers, both backends still run."""

from __future__ import annotations

import glob
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_the_test_command_starts_and_stops_a_throwaway_postgresql_when_none_answers() -> None:
    if os.geteuid() != 0 and not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        message = "installing PostgreSQL needs root"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    clusters = os.path.join(tempfile.gettempdir(), "moorage-test-postgres.*")
    clusters_before = set(glob.glob(clusters))
    # A fresh machine as the test command sees it: nothing on the port it looks at, no server named.
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "MOORAGE_")) and key not in ("CI", "COV_CORE_SOURCE")
    }
    environment["MOORAGE_TEST_POSTGRES_PROBE"] = f"127.0.0.1:{free_port()}"
    command = [str(ROOT / "scripts" / "test"), "tests/functional/test_base.py", "-k", "postgres", "-n", "0", "-rs"]
    result = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=540)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "started a throwaway cluster" in output
    assert " passed" in output and "skipped" not in output, output[-4000:]
    assert set(glob.glob(clusters)) == clusters_before, "the cluster was not removed"
