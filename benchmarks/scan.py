"""How long the scanner takes to inventory an image: a 100 MiB, 5-layer image, and a Debian root file system.

    python -m benchmarks.scan [--mib 100] [--layers 5] [--rounds 3]

Builds the images in memory (gzip layers of incompressible filler plus the package databases), then
times `inventory_image` cold (every layer read) and warm (every layer summary from the cache, as a
second image sharing the layers would be); matching is measured by `benchmarks.vulndb_import`.
The Debian root file system is this machine's own
`/var/lib/dpkg` (status and file lists: a real Debian package set) when it exists — `debootstrap`
needs the network, which the machine has not. Prints one JSON document; medians of `--rounds`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moorage.scanning.inventory import LayerSummary, inventory_image
from tests.support.scan_images import Deb, as_layer, debian_rootfs, gzip_layer, python_dist_info

SITE = "usr/lib/python3/dist-packages"


class MemoryCache:
    def __init__(self) -> None:
        self.summaries: dict[str, str] = {}

    def get(self, digest: str) -> LayerSummary | None:
        text = self.summaries.get(digest)
        return LayerSummary.from_json(text) if text is not None else None

    def put(self, digest: str, summary: LayerSummary) -> None:
        self.summaries[digest] = summary.to_json()


def synthetic_image(mib: int, layer_count: int) -> list[Any]:
    """`layer_count` gzip layers of random filler totalling `mib`, a dpkg database and Python packages."""
    per_layer = mib * (1 << 20) // layer_count
    layers = []
    for index in range(layer_count):
        files: dict[str, Any] = {f"opt/filler/{index}.bin": os.urandom(per_layer)}
        if index == 0:
            files.update(debian_rootfs([Deb(f"pkg{n}", f"1.{n}-1") for n in range(200)]))
        if index == 1:
            for n in range(100):
                files.update(python_dist_info(SITE, f"module{n}", f"2.{n}.0"))
        layers.append(as_layer(gzip_layer(files)))
    return layers


def host_debian_image() -> list[Any] | None:
    """One layer with this machine's dpkg database and file lists, or None where there is none."""
    root = Path("/var/lib/dpkg")
    if not (root / "status").exists():
        return None
    files: dict[str, Any] = {"var/lib/dpkg/status": (root / "status").read_bytes()}
    for listing in (root / "info").glob("*.list"):
        files[f"var/lib/dpkg/info/{listing.name}"] = listing.read_bytes()
    os_release = Path("/etc/os-release")
    if os_release.exists():
        files["etc/os-release"] = os_release.read_bytes()
    return [as_layer(gzip_layer(files))]


def timed(action: Callable[[], Any], rounds: int) -> tuple[dict[str, float], Any]:
    timings, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = action()
        timings.append(time.perf_counter() - started)
    spread = {"median_s": round(statistics.median(timings), 3), "min_s": round(min(timings), 3)}
    return spread, result


def measure(layers: list[Any], rounds: int) -> dict[str, Any]:
    compressed = sum(len(layer.open().read()) for layer in layers)
    cold, inventory = timed(lambda: inventory_image(layers), rounds)
    cache = MemoryCache()
    inventory_image(layers, cache)
    warm, _ = timed(lambda: inventory_image(layers, cache), rounds)
    return {
        "compressed_mib": round(compressed / (1 << 20), 1),
        "packages": len(inventory.packages),
        "cold": cold,
        "cold_mib_per_s": round(compressed / (1 << 20) / cold["median_s"], 1),
        "warm_from_layer_cache": warm,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args(argv)
    report: dict[str, Any] = {"synthetic": measure(synthetic_image(arguments.mib, arguments.layers), arguments.rounds)}
    debian = host_debian_image()
    if debian is not None:
        report["debian_host_dpkg"] = measure(debian, arguments.rounds)
    report["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
