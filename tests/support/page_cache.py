"""Looking at and emptying the kernel's page cache for one file, as tests of the read and write
paths need to."""

from __future__ import annotations

import os
from pathlib import Path


def evict_from_page_cache(path: Path) -> None:
    """Drop the file's clean pages, so the next read has to go to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(descriptor)


def is_cached(path: Path, offset: int, length: int) -> bool:
    """Whether the range can be read from the page cache without touching the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.preadv(descriptor, [bytearray(length)], offset, os.RWF_NOWAIT)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)
    return True
