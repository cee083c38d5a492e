"""The secret key file: generated once, mode 0600, read by every process that decrypts.

When `secret_key` is not set, the key lives in a file (default `<data_dir>/secret.key`) that the
first start creates. Creation is atomic (written to a private temporary file, then linked into
place), so processes or nodes starting together on a shared data directory agree on one key.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


class MissingSecretKey(Exception):
    """The key file does not exist (and this process may not create it) or is empty."""


def read_key_file(path: Path) -> str:
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        raise MissingSecretKey(f"the secret key file {path} does not exist") from None
    if not key:
        raise MissingSecretKey(f"the secret key file {path} is empty")
    return key


def ensure_key_file(path: Path) -> tuple[str, bool]:
    """The key in the file, generated first when there is none; and whether it was generated."""
    with contextlib.suppress(MissingSecretKey):
        return read_key_file(path), False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return read_key_file(path), False  # another process was first: use its key
    finally:
        temporary.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return key, True
