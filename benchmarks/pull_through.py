"""Pull-through cache: a cold pull (through the cache) and a warm pull (from it) of a large layer,
against a direct pull from the upstream.

    python -m benchmarks.pull_through [--size-mib 500] [--rounds 5] [--work DIR]

Starts Debian's `docker-registry` (Distribution) as the upstream and a moorage whose rules point at
it, uploads one layer of random bytes to the upstream, then runs interleaved rounds: a direct GET
from the upstream, a cold GET through the cache (each round under a new rule prefix, so the cache
fetches from the upstream again while streaming), a warm GET of the same name, and the disk's floor
(writing the layer to a new file and fsync-ing it, which a cold pull must also do before its last
byte). curl downloads to /dev/null. The load average is printed with the results. The issue's
targets: cold within 1.2x of direct, warm at least as fast as direct.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shlex
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks import blobapi, content
from benchmarks.processes import free_port, running
from benchmarks.registries import MOORAGE_COMMAND, run_distribution

MIB = 1 << 20


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        work = args.work or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="moorage-ptc-")))
        size = args.size_mib * MIB
        layer = content.ensure_random_file(work / f"layer-{args.size_mib}.bin", size)
        digest = blobapi_digest(layer)
        upstream = stack.enter_context(run_distribution(work))
        port = free_port()
        command = shlex.split(MOORAGE_COMMAND.format(port=port, data_dir=work / "cache-data", work_dir=work))
        env = {"MOORAGE_AUTH_ENABLED": "false", "MOORAGE_GC_INTERVAL_SECONDS": "0"}
        cache = stack.enter_context(
            running("moorage", command, f"http://127.0.0.1:{port}", work / "cache.log", "/v2/", {**os.environ, **env})
        )
        blobapi.upload_file(upstream.url, "bench/big", layer, digest)
        times: dict[str, list[float]] = {"direct": [], "cold": [], "warm": [], "disk": []}
        for round_number in range(args.rounds):
            prefix = f"r{round_number}"
            response = httpx.post(
                f"{cache.url}/api/v1/cache-rules", json={"prefix": prefix, "upstream_url": upstream.url}, timeout=30
            )
            response.raise_for_status()
            times["direct"].append(blobapi.download_blob(upstream.url, "bench/big", digest, size))
            times["cold"].append(blobapi.download_blob(cache.url, f"{prefix}/bench/big", digest, size))
            times["warm"].append(blobapi.download_blob(cache.url, f"{prefix}/bench/big", digest, size))
            times["disk"].append(durable_copy(layer, work / "disk-floor.bin"))
        direct = statistics.median(times["direct"])
        print(f"layer {args.size_mib} MiB, {args.rounds} rounds, medians:")
        for name, values in times.items():
            median = statistics.median(values)
            spread = f"{min(values):.2f}-{max(values):.2f}"
            rate = size / MIB / median
            print(f"  {name:<7} {median:7.2f} s ({spread})  {rate:8.1f} MiB/s  {median / direct:5.2f}x direct")
        print(f"  load average: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")


def durable_copy(source: Path, target: Path) -> float:
    """Seconds to write `source` (in the page cache) to a new file and fsync it: the disk's floor.

    A cold pull through the cache commits the layer durably before its last byte reaches the
    client, so on the same disk it can be no faster than this.
    """
    started = time.perf_counter()
    with source.open("rb") as reading, target.open("wb") as writing:
        while block := reading.read(4 * MIB):
            writing.write(block)
        writing.flush()
        os.fsync(writing.fileno())
    seconds = time.perf_counter() - started
    target.unlink()
    return seconds


def blobapi_digest(path: Path) -> str:
    hasher = hashlib.sha256()
    for block in content.read_blocks(path):
        hasher.update(block)
    return f"sha256:{hasher.hexdigest()}"


if __name__ == "__main__":
    main()
