"""Emptying the kernel's page cache of one file, for tests of reading from disk."""

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
