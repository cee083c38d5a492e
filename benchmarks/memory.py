"""What the machine does with freed memory, read (never changed) so a run's report can say it.

On a virtual machine that hands freed memory back to its host (virtio-balloon free page
reporting, as on this project's reference machine), a page the guest frees is returned to the
host about two seconds later, and the next time the guest uses it the host must fault it in
again. Measured there (docs/benchmarks.md, "Memory the host takes back"): writing 1 GiB into the
page cache cost 0.2 s with pages the host still backed and 1.3-2.1 s with returned ones.

That cost lands on whichever process happens to allocate first: the server writing an uploaded
blob, or skopeo writing a pulled one. A product benchmark does not reconfigure the machine it runs
on, so the run leaves the setting alone and controls the effect instead: an untimed warm-up round,
the side that goes first alternating between rounds (an even number of them), and paired per-round
ratios whose range the report shows. The report names the setting it found.
"""

from __future__ import annotations

from pathlib import Path

REPORTING_ORDER = Path("/sys/module/page_reporting/parameters/page_reporting_order")
OFF_ORDER = 11
"""One above the largest order of free block the kernel keeps: no free block is ever reported."""


def page_reporting(setting: Path = REPORTING_ORDER) -> str:
    """How this machine treats freed memory, for the run's report; reads the setting only."""
    try:
        order = setting.read_text().strip()
    except OSError:
        return "no free page reporting to the host"
    if order.isdigit() and int(order) >= OFF_ORDER:
        return f"free page reporting to the host off (order {order})"
    return (
        f"free page reporting to the host on (order {order}; left as found): first use of freed memory is "
        "slow, spread over both sides by the warm-up round and the alternating order; see the ratio range"
    )
