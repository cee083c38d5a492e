"""Starting the disk write of an upload's bytes while the upload still arrives.

A blob is committed only after `fsync`, and on the reference VM an `fsync` of 1 GiB written into
the page cache took 0.5 s, all of it after the last byte had arrived (docs/benchmarks.md,
"Writing back while receiving"). Asking the kernel to start writing each range as soon as it is in
the page cache, with `sync_file_range(SYNC_FILE_RANGE_WRITE)`, overlaps that work with the
transfer: the final `fsync` then waits for little more than the last range. It changes no
guarantee: durability still comes from the `fsync` at commit, and the pages stay cached.

Linux only. Python's `os` module has no binding for it, so it is reached through `ctypes`; where
the call does not exist or fails, nothing is started early and the `fsync` does all the work.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable

SYNC_FILE_RANGE_WRITE = 2
"""Start writing the range's dirty pages; do not wait for them (linux/fs.h)."""

StartWriteback = Callable[[int, int, int], None]
"""(file descriptor, offset, length) -> None; raises OSError if the kernel refused."""


def _load() -> StartWriteback | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int

    def start_writeback(fd: int, offset: int, length: int) -> None:
        if call(fd, offset, length, SYNC_FILE_RANGE_WRITE) != 0:
            number = ctypes.get_errno()
            raise OSError(number, os.strerror(number))

    return start_writeback


start_writeback: StartWriteback | None = _load()
"""The kernel call, or None where this platform has none."""
