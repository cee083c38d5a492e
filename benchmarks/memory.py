"""Keeping the guest's memory backed by the host for the length of a run.

On a virtual machine that hands freed memory back to its host (virtio-balloon free page
reporting, as on this project's reference machine), a page the guest frees is returned to the
host about two seconds later, and the next time the guest uses it the host must fault it in
again. Measured there (docs/benchmarks.md, "Memory the host takes back"): writing 1 GiB into the
page cache cost 0.2 s with pages the host still backed and 1.3-2.1 s with returned ones.

That cost lands on whichever process happens to allocate first: the server writing an uploaded
blob, or skopeo writing a pulled one. So it decided which side of a round looked slow, not the
servers. A run therefore pauses the reporting (it needs root; without it the run goes on and says
so), touches the memory a round will use once, and restores the setting when it ends.
"""

from __future__ import annotations

import contextlib
import mmap
from collections.abc import Iterator
from pathlib import Path

REPORTING_ORDER = Path("/sys/module/page_reporting/parameters/page_reporting_order")
PAUSED_ORDER = "11"
"""One above the largest order of free block the kernel keeps, so no free block is ever reported."""
TOUCH_STEP = 64 << 20


@contextlib.contextmanager
def host_memory_kept(setting: Path = REPORTING_ORDER) -> Iterator[str]:
    """Pause free page reporting while the block runs; yields how the run's memory was treated."""
    try:
        original = setting.read_text().strip()
    except OSError:
        yield "no free page reporting to the host"
        return
    if original == PAUSED_ORDER:
        yield "free page reporting to the host already off"
        return
    try:
        setting.write_text(PAUSED_ORDER)
    except OSError as error:
        yield f"free page reporting to the host left on (order {original}; cannot pause: {error.strerror})"
        return
    try:
        yield f"free page reporting to the host paused during the run (order {original}, restored after)"
    finally:
        setting.write_text(original)


def touch_and_free(size: int) -> int:
    """Make the host back `size` bytes of the guest's free memory, so that a round's first use is cheap.

    Anonymous memory freed here goes back to the kernel's free lists, where the page cache takes
    it. Returns the bytes touched.
    """
    if size <= 0:
        return 0
    touched = 0
    with mmap.mmap(-1, size) as region:
        block = b"\1" * TOUCH_STEP
        for offset in range(0, size, TOUCH_STEP):
            piece = block[: size - offset]
            region[offset : offset + len(piece)] = piece
            touched += len(piece)
    return touched


def available_bytes() -> int:
    """MemAvailable from /proc/meminfo, or 0 where there is none."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0
