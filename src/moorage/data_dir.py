"""The data directory is private to the user moorage runs as: 0700, and every file in it 0600.

It holds the embedded database (with the encrypted signing keys, password hashes and the audit
log), the secret key file, the first admin's password and every blob, private images included.
Processes that write there set the umask to 0o077 first (`restrict_new_files`), so files created
by SQLite (the database, its `-wal` and `-shm`), by the blob store and by anything else come out
owner-only; the places that create files also pass explicit modes. At start, `secure_data_dir`
tightens a data directory that is wider than 0700 (its mode alone keeps other local users out)
and warns about the well-known files in it that are wider than 0600, leaving them as they are.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("moorage")

PRIVATE_UMASK = 0o077
DIRECTORY_MODE = 0o700
FILE_MODE = 0o600

WATCHED_FILES = ("metadata.db", "metadata.db-wal", "metadata.db-shm", "secret.key", "initial-admin-password")
"""Files at the top of the data directory whose modes are checked at every start."""


def restrict_new_files() -> None:
    """Make every file and directory this process creates from now on owner-only."""
    os.umask(PRIVATE_UMASK)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def secure_data_dir(data_dir: Path, extra_files: tuple[Path, ...] = ()) -> None:
    """Create the data directory 0700, tighten it when wider, and warn about wide files in it.

    `extra_files` are further files to check (e.g. a secret key file kept elsewhere).
    """
    data_dir.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    mode = _mode(data_dir)
    if mode & ~DIRECTORY_MODE:
        log.warning(
            "the data directory %s was accessible to other users (mode %04o); tightened it to %04o",
            data_dir,
            mode,
            DIRECTORY_MODE,
        )
        data_dir.chmod(DIRECTORY_MODE)
    for path in (*(data_dir / name for name in WATCHED_FILES), *extra_files):
        try:
            mode = _mode(path)
        except FileNotFoundError:
            continue
        if mode & ~FILE_MODE & 0o777:
            log.warning("%s is accessible to other users (mode %04o); it holds secrets: chmod 600 it", path, mode)
