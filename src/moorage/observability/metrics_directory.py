"""The directory where the HTTP workers of one `moorage serve` write their metrics (multiprocess mode).

Fresh at every start, so no file of an earlier run is counted, and removed at a clean exit. A
supervisor killed outright (SIGKILL, a power cut of a container) cannot remove its own; the next
start removes those whose supervisor is gone: the supervisor's process id is in the name, and only
directories of this user, not symlinks, are touched. Stdlib only: the supervisor imports it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

PREFIX = "moorage-metrics-"


def _owner_is_gone(directory: Path) -> bool:
    try:
        pid = int(directory.name[len(PREFIX) :].split("-", 1)[0])
        status = os.lstat(directory)
    except (ValueError, OSError):
        return False
    if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.getuid() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def remove_abandoned() -> None:
    for directory in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
        if _owner_is_gone(directory):
            shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def metrics_directory() -> Iterator[str]:
    """A new private directory (mode 0700) for this supervisor's workers, removed afterwards."""
    remove_abandoned()
    directory = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
