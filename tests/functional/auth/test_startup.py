"""Starting a registry: the first admin, and the refusal to serve the network without authentication."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.support.auth import fetch_token
from tests.support.server import RunningRegistry


def test_the_first_start_creates_an_admin_with_a_generated_password_kept_out_of_the_log(
    start_registry: Callable[..., RunningRegistry], tmp_path: Path
) -> None:
    server = start_registry(tmp_path / "data", auth_enabled="true")
    secret_file = tmp_path / "data" / "initial-admin-password"
    password = secret_file.read_text().strip()
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert len(password) >= 20
    assert fetch_token(server.url, ("admin", password)).status_code == 200
    assert password not in server.log() and str(secret_file) in server.log()


def test_serving_the_network_without_authentication_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "MOORAGE_AUTH_ENABLED": "false"}
    command = [
        sys.executable,
        "-m",
        "moorage",
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "1",
        "--data-dir",
        str(tmp_path),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "refusing to listen on 0.0.0.0 without authentication" in result.stderr
