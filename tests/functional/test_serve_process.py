"""`moorage serve` checks and prepares in the command line's process, then becomes the slim supervisor:
the same process (a service manager's signals reach the server), without the command line's libraries
or the settings model, and without the first admin's password in its environment."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import StartRegistry
from tests.support.auth import fetch_token


def _proc(pid: int, name: str) -> bytes:
    return (Path("/proc") / str(pid) / name).read_bytes()


def test_the_serve_process_becomes_the_supervisor_without_the_command_lines_libraries(
    start_registry: StartRegistry, tmp_path: Path
) -> None:
    server = start_registry(tmp_path / "data")
    assert server.process is not None
    assert b"moorage.supervisor" in _proc(server.process.pid, "cmdline")
    # Native libraries show which packages a process imported: pydantic's core (the settings model)
    # and zstandard (httpx's decoders, so the command line's HTTP client).
    mapped = _proc(server.process.pid, "maps").decode(errors="replace")
    assert "_pydantic_core" not in mapped and "zstandard" not in mapped


def test_the_first_admins_password_stays_out_of_the_servers_environment(
    start_registry: StartRegistry, tmp_path: Path
) -> None:
    password = "first-admin-password-from-the-settings-file"
    config = tmp_path / "moorage.toml"
    config.write_text(f'admin_password = "{password}"\n')
    server = start_registry(tmp_path / "data", auth_enabled="true", config=str(config))
    assert fetch_token(server.url, ("admin", password)).status_code == 200
    assert server.process is not None
    assert password.encode() not in _proc(server.process.pid, "environ")
