"""Running `moorage` as a user would (a subprocess, no terminal), against a registry with authentication on."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.auth import ADMIN, ADMIN_PASSWORD
from tests.support.server import RunningRegistry, start_server

AUTH_SETTINGS = {
    "auth_enabled": "true",
    "admin_username": ADMIN,
    "admin_password": ADMIN_PASSWORD,
    "login_failures_per_address": "100000",
}


@dataclass
class Cli:
    """`moorage` for one user: a private config directory (where `moorage login` stores its login)."""

    server: RunningRegistry
    config_home: Path

    @property
    def logins_file(self) -> Path:
        return self.config_home / "moorage" / "logins.json"

    def run(
        self, *args: str, stdin: str | None = None, expect: int | None = 0, **env: str
    ) -> subprocess.CompletedProcess[str]:
        environment = {key: value for key, value in os.environ.items() if not key.startswith("MOORAGE_")}
        environment.update({"XDG_CONFIG_HOME": str(self.config_home), "MOORAGE_URL": self.server.url, **env})
        result = subprocess.run(
            [sys.executable, "-m", "moorage", *args],
            input=stdin if stdin is not None else "",
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if expect is not None:
            assert result.returncode == expect, f"moorage {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
        return result

    def login(self, username: str = ADMIN, password: str = ADMIN_PASSWORD) -> None:
        self.run("login", "--username", username, "--password-stdin", stdin=password + "\n")


@pytest.fixture(scope="module", name="secured_server")
def secured_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    with start_server(tmp_path_factory.mktemp("cli-secured"), **AUTH_SETTINGS) as server:
        yield server


@pytest.fixture(name="cli")
def cli_fixture(secured_server: RunningRegistry, tmp_path: Path) -> Cli:
    """Import `cli_fixture` and `secured_server_fixture` into a test module to use `cli`."""
    return Cli(secured_server, tmp_path / "config")
