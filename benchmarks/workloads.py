"""The work each round does on each registry: one function per metric, returning one number.

Every function gets the same `Side` (a running registry plus its scratch space) and the round's
`RoundContent` (images and blobs with fresh digests), so both registries do exactly the same work.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks import blobapi, loadtools
from benchmarks.content import RawBlob
from benchmarks.processes import PeakRssSampler, Server

BIG_TAG = "big"
MANY_TAG = "many"
SMALL_REPO = "bench/small"
SMALL_TAG = "v1"


@dataclass
class RoundContent:
    """What one round pushes: two OCI layouts and two raw blobs, all with fresh digests."""

    big_layout: Path
    big_bytes: int
    many_layout: Path
    many_bytes: int
    many_layers: int
    raw: RawBlob | None  # None: no raw transfer metric was selected
    memory: RawBlob | None  # None: this round skips the memory measurement


@dataclass
class Side:
    """One registry under test, with its scratch directory and what it was seeded with."""

    label: str
    server: Server
    scratch: Path
    client_env: dict[str, str]
    small_layer: str = ""
    accept_script: Path | None = None
    last_peak_pss_mb: float | None = None
    notes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Cost:
    """How to express a server's CPU time per unit of work (a copy, a GB, a request).

    `work` turns one measurement (its value, the round's content, the load duration) into units.
    """

    unit: str
    work: Callable[[float, RoundContent, int], float]


@dataclass(frozen=True)
class Metric:
    """A measured quantity; `higher_is_better` decides which way the ratio is taken."""

    key: str
    title: str
    unit: str
    higher_is_better: bool
    run: Callable[[Side, RoundContent, int], float]
    target: str
    cost: Cost | None = None


def one_copy(value: float, content: RoundContent, load_seconds: int) -> float:
    return 1.0


def raw_gigabytes(value: float, content: RoundContent, load_seconds: int) -> float:
    """The CPU measured covers the untimed warm-up transfer as well as the timed one: two blobs' worth."""
    assert content.raw is not None
    return 2 * content.raw.size / 1e9


def million_requests(value: float, content: RoundContent, load_seconds: int) -> float:
    return value * load_seconds / 1e6


def _skopeo(side: Side, source: str, destination: str, *extra: str) -> float:
    """Run one skopeo copy and return its wall-clock seconds (skopeo start-up included)."""
    command = ["skopeo", "--insecure-policy", "copy", "--retry-times", "0", *extra, source, destination]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=side.client_env, timeout=900)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed on {side.label}:\n{result.stderr[-2000:]}")
    return seconds


def skopeo_push(side: Side, layout: Path, repo: str, tag: str) -> float:
    # --preserve-digests makes skopeo fail rather than silently recompress or convert the image.
    return _skopeo(
        side,
        f"oci:{layout}:{tag}",
        f"docker://{side.server.host}/{repo}:{tag}",
        "--dest-tls-verify=false",
        "--preserve-digests",
    )


def skopeo_pull(side: Side, repo: str, tag: str) -> float:
    """Pull into a fresh OCI layout, then delete it so pulls never find blobs already there."""
    target = side.scratch / "pull"
    shutil.rmtree(target, ignore_errors=True)
    try:
        return _skopeo(
            side, f"docker://{side.server.host}/{repo}:{tag}", f"oci:{target}:{tag}", "--src-tls-verify=false"
        )
    finally:
        shutil.rmtree(target, ignore_errors=True)


def push_big(side: Side, content: RoundContent, _: int) -> float:
    return skopeo_push(side, content.big_layout, "bench/big", BIG_TAG)


def pull_big(side: Side, content: RoundContent, _: int) -> float:
    return skopeo_pull(side, "bench/big", BIG_TAG)


def push_many(side: Side, content: RoundContent, _: int) -> float:
    return skopeo_push(side, content.many_layout, "bench/many", MANY_TAG)


def pull_many(side: Side, content: RoundContent, _: int) -> float:
    return skopeo_pull(side, "bench/many", MANY_TAG)


def raw_upload(side: Side, content: RoundContent, _: int) -> float:
    assert content.raw is not None
    blobapi.warm_up_upload(side.server.url, "bench/warmup", content.raw.path)
    seconds = blobapi.upload_file(side.server.url, "bench/raw", content.raw.path, content.raw.digest)
    return loadtools.mb_per_s(content.raw.size, seconds)


def raw_download(side: Side, content: RoundContent, _: int) -> float:
    assert content.raw is not None
    blobapi.download_blob(side.server.url, "bench/raw", content.raw.digest, content.raw.size)  # warm-up, untimed
    seconds = blobapi.download_blob(side.server.url, "bench/raw", content.raw.digest, content.raw.size)
    return loadtools.mb_per_s(content.raw.size, seconds)


def manifest_get(side: Side, content: RoundContent, load_seconds: int) -> float:
    url = f"{side.server.url}/v2/{SMALL_REPO}/manifests/{SMALL_TAG}"
    return loadtools.wrk_rps(url, seconds=load_seconds, script=side.accept_script)


def blob_head(side: Side, content: RoundContent, load_seconds: int) -> float:
    url = f"{side.server.url}/v2/{SMALL_REPO}/blobs/{side.small_layer}"
    return loadtools.hey_rps(url, method="HEAD", seconds=load_seconds)


def peak_memory(side: Side, content: RoundContent, _: int) -> float:
    """Peak RSS (MB) of the server's process tree over a big upload then download of the same blob.

    The peak PSS of the same transfer is kept for `peak_pss`, which must run right after.
    """
    blob = content.memory
    assert blob is not None
    with PeakRssSampler(side.server.process.pid) as sampler:
        blobapi.upload_file(side.server.url, "bench/memory", blob.path, blob.digest)
        blobapi.download_blob(side.server.url, "bench/memory", blob.digest, blob.size)
    side.last_peak_pss_mb = sampler.peak_pss / loadtools.MB
    return sampler.peak / loadtools.MB


def peak_pss(side: Side, content: RoundContent, _: int) -> float:
    """Peak PSS (MB) of the transfer `peak_memory` just measured: no work of its own."""
    if side.last_peak_pss_mb is None:
        raise RuntimeError("peak_pss needs peak_rss to run first")
    value, side.last_peak_pss_mb = side.last_peak_pss_mb, None
    return value


PER_COPY = Cost("CPU s per copy", one_copy)
PER_GB = Cost("CPU s per GB", raw_gigabytes)
PER_REQUEST = Cost("CPU µs per request", million_requests)

METRICS: tuple[Metric, ...] = (
    Metric("push_big", "skopeo push, 1 big layer", "s", False, push_big, ">= 1x", PER_COPY),
    Metric("pull_big", "skopeo pull, 1 big layer", "s", False, pull_big, ">= 1x", PER_COPY),
    Metric("push_many", "skopeo push, many small layers", "s", False, push_many, ">= 1x", PER_COPY),
    Metric("pull_many", "skopeo pull, many small layers", "s", False, pull_many, ">= 1x", PER_COPY),
    Metric("raw_upload", "raw blob upload (POST + PUT)", "MB/s", True, raw_upload, ">= 2x", PER_GB),
    Metric("raw_download", "raw blob download (GET)", "MB/s", True, raw_download, ">= 1x", PER_GB),
    Metric("manifest_get", "manifest GET by tag, 32 conns", "req/s", True, manifest_get, ">= 2x", PER_REQUEST),
    Metric("blob_head", "blob HEAD, 32 conns", "req/s", True, blob_head, ">= 2x", PER_REQUEST),
    Metric("peak_rss", "peak RSS over big upload + download", "MB", False, peak_memory, "< 200 MB"),
    Metric("peak_pss", "peak PSS over the same transfer", "MB", False, peak_pss, "info"),
)


def seed(side: Side) -> None:
    """Push the small image that the request-rate metrics read, and warm the server up."""
    manifest_digest, layer = blobapi.push_small_image(side.server.url, SMALL_REPO, SMALL_TAG)
    side.small_layer = layer
    side.notes["small_manifest"] = manifest_digest
    side.accept_script = loadtools.wrk_lua_script(side.scratch / "accept.lua", {"Accept": blobapi.MANIFEST_ACCEPT})
    with httpx.Client(base_url=side.server.url, timeout=30) as client:
        for _ in range(50):  # first requests pay for lazy imports and cold caches in either server
            client.get(f"/v2/{SMALL_REPO}/manifests/{SMALL_TAG}", headers={"Accept": blobapi.MANIFEST_ACCEPT})
            client.head(f"/v2/{SMALL_REPO}/blobs/{layer}")


def settle() -> None:
    """Flush dirty pages so one measurement's write-back does not land in the next one's time."""
    os.sync()
