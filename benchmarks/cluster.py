"""One node against two, the filesystem against S3, redirects on against off, on this machine.

    python -m benchmarks.cluster [--blob-mib 64] [--seconds 5] [--rounds 3]
                                 [--postgres postgresql://postgres@127.0.0.1:5432/test]

Each shape starts fresh servers (a new PostgreSQL database, a new bucket of a SeaweedFS started here)
and measures, over HTTP: manifest GETs by tag per second (`hey`, 32 connections in all, split over
the nodes), and the time to push (`POST` + one `PUT ?digest=`) and pull (`GET`, following a redirect)
a blob of `--blob-mib` random bytes, by two clients at once (spread over the nodes). Shapes:

- `sqlite-fs`: the embedded default (one node);
- `pg-fs`, `pg-s3`, `pg-s3-redirect`: one node on PostgreSQL with each blob store;
- `pg-s3 x2`: two nodes on the same PostgreSQL and bucket.

Everything shares this machine's two cores — the object store, PostgreSQL, the clients and the
nodes — so a second node adds no hardware: read the two-node figures as the cost of coordination,
not as scaling. The shapes are measured in turn, `--rounds` times over (interleaved, so a burst of
other load touches every shape alike); each figure is the median of the rounds with its range.
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg

from benchmarks.large_listings import push_one_image
from benchmarks.processes import Server, free_port, running
from tests.support.object_store import ObjectStoreServer, start_object_store

MANIFEST_ACCEPT = "application/vnd.oci.image.manifest.v1+json"


@contextlib.contextmanager
def nodes(work: Path, count: int, settings: dict[str, str], database_url: str | None) -> Iterator[list[Server]]:
    with contextlib.ExitStack() as stack:
        started = []
        for number in range(count):
            port = free_port()
            command = [sys.executable, "-m", "moorage", "serve", "--port", str(port)]
            command += ["--data-dir", str(work / f"data-{number}" if database_url else work / "data")]
            if database_url:
                command += ["--database-url", database_url]
            env = {**os.environ, **{f"MOORAGE_{key.upper()}": value for key, value in settings.items()}}
            log = work / f"node-{number}.log"
            url = f"http://127.0.0.1:{port}"
            started.append(stack.enter_context(running(f"node-{number}", command, url, log, "/v2/", env)))
        yield started


def manifest_rate(servers: list[Server], seconds: int) -> float:
    """Manifest GETs by tag per second, 32 connections split over the nodes, all at once."""
    per_node = max(1, 32 // len(servers))

    def hey(server: Server) -> float:
        command = ["hey", "-z", f"{seconds}s", "-c", str(per_node), "-H", f"Accept: {MANIFEST_ACCEPT}"]
        output = subprocess.run(
            [*command, f"{server.url}/v2/bench/pull/manifests/seed"], capture_output=True, text=True
        )
        match = re.search(r"Requests/sec:\s+([\d.]+)", output.stdout)
        return float(match.group(1)) if match else 0.0

    with ThreadPoolExecutor(len(servers)) as pool:
        return round(sum(pool.map(hey, servers)), 1)


def push_and_pull(server: Server, data: bytes, repository: str) -> tuple[float, float]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with httpx.Client(base_url=server.url, timeout=600, follow_redirects=True) as client:
        started = time.perf_counter()
        location = client.post(f"/v2/{repository}/blobs/uploads/").headers["location"]
        separator = "&" if "?" in location else "?"
        client.put(f"{location}{separator}digest={digest}", content=data).raise_for_status()
        pushed = time.perf_counter() - started
        started = time.perf_counter()
        received = hashlib.sha256()
        with client.stream("GET", f"/v2/{repository}/blobs/{digest}") as response:
            response.raise_for_status()
            for chunk in response.iter_bytes(1 << 20):
                received.update(chunk)
        pulled = time.perf_counter() - started
    assert "sha256:" + received.hexdigest() == digest
    return pushed, pulled


CLIENTS = 2
"""Transfers at once, whatever the number of nodes: the same load for every shape."""


def transfer_rates(servers: list[Server], mib: int) -> dict[str, float]:
    """MiB/s pushed and pulled in all by `CLIENTS` clients at once, each with a blob of its own."""
    blobs = [os.urandom(mib << 20) for _ in range(CLIENTS)]
    targets = [servers[index % len(servers)] for index in range(CLIENTS)]
    with ThreadPoolExecutor(CLIENTS) as pool:
        times = list(
            pool.map(lambda pair: push_and_pull(pair[0], pair[1], "bench/blobs"), zip(targets, blobs, strict=True))
        )
    total = mib * CLIENTS
    return {
        "push_mib_per_s": round(total / max(t[0] for t in times), 1),
        "pull_mib_per_s": round(total / max(t[1] for t in times), 1),
    }


def measure_shape(
    name: str,
    count: int,
    settings: dict[str, str],
    postgres: str | None,
    arguments: argparse.Namespace,
) -> dict[str, Any]:
    database = f"moorage_bench_{secrets.token_hex(4)}" if postgres else None
    if postgres and database:
        with psycopg.connect(postgres, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
    database_url = None
    if postgres and database:
        database_url = postgres.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{database}"
    try:
        with (
            tempfile.TemporaryDirectory(prefix="moorage-cluster-") as work,
            nodes(Path(work), count, settings, database_url) as servers,
        ):
            with httpx.Client(base_url=servers[0].url, timeout=60) as client:
                push_one_image(client, "bench/pull")
            manifest_rate(servers, 1)  # warm-up
            result: dict[str, Any] = {"shape": name, "nodes": count}
            result["manifest_get_per_s"] = manifest_rate(servers, arguments.seconds)
            result.update(transfer_rates(servers, arguments.blob_mib))
            return result
    finally:
        if postgres and database:
            with psycopg.connect(postgres, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blob-mib", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    arguments = parser.parse_args(argv)
    store: ObjectStoreServer = start_object_store()
    try:
        s3 = store.registry_settings(store.new_bucket())
        shapes = [
            ("sqlite-fs", 1, {}, None),
            ("pg-fs", 1, {}, arguments.postgres),
            ("pg-s3", 1, s3, arguments.postgres),
            ("pg-s3-redirect", 1, {**s3, "s3_redirect_seconds": "300"}, arguments.postgres),
            ("pg-s3 x2", 2, s3, arguments.postgres),
        ]
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name, *_ in shapes}
        load_before = os.getloadavg()
        for _ in range(arguments.rounds):
            for name, count, settings, postgres in shapes:
                rounds[name].append(measure_shape(name, count, settings, postgres, arguments))
        load_after = os.getloadavg()
    finally:
        store.stop()
    report = {
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "rounds": arguments.rounds,
        "blob_mib": arguments.blob_mib,
        "shapes": [summary(results) for results in rounds.values()],
    }
    print(json.dumps(report, indent=1))
    for shape in report["shapes"]:
        print(
            f"{shape['shape']:<15} manifests/s {shape['manifest_get_per_s']:8.1f} {shape['manifest_get_per_s_range']}"
            f"  push MiB/s {shape['push_mib_per_s']:7.1f} {shape['push_mib_per_s_range']}"
            f"  pull MiB/s {shape['pull_mib_per_s']:7.1f} {shape['pull_mib_per_s_range']}"
        )


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over the rounds, and its range."""
    first = results[0]
    summarised: dict[str, Any] = {"shape": first["shape"], "nodes": first["nodes"]}
    for key in ("manifest_get_per_s", "push_mib_per_s", "pull_mib_per_s"):
        values = sorted(result[key] for result in results)
        summarised[key] = statistics.median(values)
        summarised[f"{key}_range"] = [values[0], values[-1]]
    return summarised


if __name__ == "__main__":
    main()
