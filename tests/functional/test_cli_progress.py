"""Progress for long work: drawn on a terminal with the live counts of the server's run record,
never with `--json` and never into a pipe, so scripts read exactly what they read before."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.cli_support import AUTH_SETTINGS, Cli
from tests.functional.helpers import push_blob, random_bytes
from tests.support.auth import ADMIN, ADMIN_PASSWORD, client_for
from tests.support.server import RunningRegistry, start_server

# One blob per GC transaction, a pause between them: a pass lasts long enough to be polled.
SLOW_GC = {"gc_grace_period_seconds": "0", "gc_batch_size": "1", "gc_batch_pause_seconds": "0.7"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    settings = {**AUTH_SETTINGS, **SLOW_GC, "gc_interval_seconds": "0", "lifecycle_interval_seconds": "0"}
    with start_server(tmp_path_factory.mktemp("cli-progress") / "data", **settings) as running:
        yield running


@pytest.fixture
def cli(server: RunningRegistry, tmp_path: Path) -> Cli:
    cli = Cli(server, tmp_path / "config")
    cli.login()
    return cli


def unreferenced_blobs(server: RunningRegistry, count: int) -> None:
    with client_for(server, (ADMIN, ADMIN_PASSWORD)) as client:
        for _ in range(count):
            push_blob(client, "progress/blobs", random_bytes(1000))


def on_a_terminal(cli: Cli, *args: str) -> tuple[str, str, int]:
    """Run `moorage` with stderr on a pseudo-terminal (100 columns); its stdout, what the terminal showed, status."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MOORAGE_")}
    environment.update({"XDG_CONFIG_HOME": str(cli.config_home), "MOORAGE_URL": cli.server.url, "TERM": "xterm"})
    environment.pop("COLUMNS", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "moorage", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=environment,
    )
    os.close(slave)
    shown: list[bytes] = []

    def read() -> None:  # keep draining: a full terminal buffer would block the command
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            shown.append(data)

    reader = threading.Thread(target=read)
    reader.start()
    stdout, _ = process.communicate(timeout=120)
    reader.join(timeout=10)
    os.close(master)
    return stdout.decode(), b"".join(shown).decode(errors="replace"), process.returncode


def test_gc_on_a_terminal_shows_progress_with_the_run_records_counts(cli: Cli) -> None:
    unreferenced_blobs(cli.server, 4)
    stdout, terminal, status = on_a_terminal(cli, "gc")
    assert status == 0, terminal
    assert "garbage collection" in terminal
    assert "blobs," in terminal and "freed" in terminal, terminal  # "run N: 2 blobs, 2.0 kB freed", polled
    assert stdout.startswith("gc: freed 4 blobs")  # the result itself goes to stdout, as before


def test_json_and_piped_output_carry_no_progress(cli: Cli) -> None:
    unreferenced_blobs(cli.server, 2)
    stdout, terminal, status = on_a_terminal(cli, "gc", "--json")
    assert status == 0
    assert json.loads(stdout)["blobs_deleted"] == 2
    assert "garbage collection" not in terminal and "\x1b[" not in terminal
    piped = cli.run("lifecycle", "apply")
    assert "lifecycle run" not in piped.stderr and "\x1b[" not in piped.stdout + piped.stderr
    assert piped.stdout.startswith("run ")


def test_commands_that_print_a_new_secret_also_speak_json(cli: Cli) -> None:
    token = json.loads(cli.run("tokens", "create", "for-ci", "-s", "pull", "--json").stdout)
    assert token["token"] and token["name"] == "for-ci" and "id" in token
    robot = json.loads(cli.run("robots", "create", ADMIN, "bot", "-s", "pull", "--json").stdout)
    assert robot["username"] == f"{ADMIN}+bot" and robot["secret"]
    rotated = json.loads(cli.run("robots", "rotate", ADMIN, "bot", "--json").stdout)
    assert rotated["secret"] and rotated["secret"] != robot["secret"]
