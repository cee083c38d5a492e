"""The multiprocess metrics directory: fresh per start, gone after, abandoned ones cleaned up safely."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from moorage.observability.metrics_directory import PREFIX, metrics_directory


@pytest.fixture
def temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def dead_pid() -> int:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(finished.stdout)


def test_a_start_makes_a_private_directory_and_removes_it_at_the_end(temporary: Path) -> None:
    with metrics_directory() as directory:
        path = Path(directory)
        assert path.parent == temporary and path.name.startswith(f"{PREFIX}{os.getpid()}-")
        assert path.stat().st_mode & 0o777 == 0o700
        (path / "counter_1.db").write_bytes(b"x")
    assert not path.exists()


def test_a_start_removes_directories_of_supervisors_that_are_gone_and_nothing_else(temporary: Path) -> None:
    abandoned = temporary / f"{PREFIX}{dead_pid()}-abc"
    abandoned.mkdir()
    (abandoned / "counter_9.db").write_bytes(b"x")
    alive = temporary / f"{PREFIX}{os.getppid()}-def"  # our parent: running
    alive.mkdir()
    elsewhere = temporary / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep").write_bytes(b"x")
    link = temporary / f"{PREFIX}{dead_pid()}-link"
    link.symlink_to(elsewhere)
    unrelated = temporary / f"{PREFIX}not-a-pid"
    unrelated.mkdir()
    with metrics_directory():
        pass
    assert not abandoned.exists()
    assert alive.exists() and unrelated.exists() and link.is_symlink() and (elsewhere / "keep").exists()
