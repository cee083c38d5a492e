"""Large listings on PostgreSQL: `tags/list` of one repository with 500,000 tags, `_catalog` of 100,000 repositories.

    python -m benchmarks.large_listings [--tags 500000] [--repositories 100000] [--page 100] [--rounds 5]
                                        [--postgres postgresql://postgres@127.0.0.1:5432/test]

Creates a fresh database on the PostgreSQL server, starts `moorage serve` on it, pushes one image
over HTTP, then bulk-inserts the tags (all pointing at that image) and the repositories in SQL (a
push per tag would measure pushes, not listings). Measures over HTTP, after one warm-up walk:
the first page (median and spread of `--rounds` requests), and a full walk following the `Link`
headers with page sizes `--page` and 1000. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from benchmarks.processes import free_port, running

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def push_one_image(client: httpx.Client, repository: str) -> str:
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    layer = secrets.token_bytes(64)
    descriptors = []
    for data, media_type in ((config, "application/vnd.oci.image.config.v1+json"), (layer, "application/octet-stream")):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        started = client.post(f"/v2/{repository}/blobs/uploads/")
        location = started.headers["location"]
        separator = "&" if "?" in location else "?"
        client.put(f"{location}{separator}digest={digest}", content=data).raise_for_status()
        descriptors.append({"mediaType": media_type, "digest": digest, "size": len(data)})
    manifest = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptors[0], "layers": descriptors[1:]}
    ).encode()
    response = client.put(f"/v2/{repository}/manifests/seed", content=manifest, headers={"Content-Type": OCI_MANIFEST})
    response.raise_for_status()
    return response.headers["docker-content-digest"]


def walk(client: httpx.Client, first: str) -> tuple[int, float, int]:
    """Follow `Link: <…>; rel="next"` from `first`; (items, seconds, pages)."""
    started = time.perf_counter()
    url: str | None = first
    items = pages = 0
    while url:
        response = client.get(url)
        response.raise_for_status()
        body = response.json()
        items += len(body.get("tags") or body.get("repositories") or [])
        pages += 1
        link = response.headers.get("link")
        url = link.split(";", 1)[0].strip("<> ") if link else None
    return items, time.perf_counter() - started, pages


def first_page(client: httpx.Client, url: str, rounds: int) -> dict[str, float]:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        client.get(url).raise_for_status()
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(timings), 2),
        "min_ms": round(min(timings), 2),
        "max_ms": round(max(timings), 2),
    }


def measure(client: httpx.Client, base: str, page: int, rounds: int) -> dict[str, Any]:
    walk(client, f"{base}?n=1000")  # warm-up: caches of PostgreSQL and the server
    result: dict[str, Any] = {f"first_page_n{page}": first_page(client, f"{base}?n={page}", rounds)}
    for size in (page, 1000):
        items, seconds, pages = walk(client, f"{base}?n={size}")
        result[f"walk_n{size}"] = {"items": items, "pages": pages, "seconds": round(seconds, 2)}
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=500_000)
    parser.add_argument("--repositories", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    arguments = parser.parse_args(argv)

    database = f"moorage_bench_{secrets.token_hex(4)}"
    with psycopg.connect(arguments.postgres, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    database_url = arguments.postgres.rsplit("/", 1)[0] + f"/{database}"
    try:
        with tempfile.TemporaryDirectory(prefix="moorage-listings-") as work:
            port = free_port()
            command = [sys.executable, "-m", "moorage", "serve", "--port", str(port), "--data-dir", f"{work}/data"]
            command += ["--database-url", database_url.replace("postgresql://", "postgresql+psycopg://", 1)]
            log = Path(work) / "server.log"
            with (
                running("moorage", command, f"http://127.0.0.1:{port}", log, "/v2/") as server,
                httpx.Client(base_url=server.url, timeout=120) as client,
            ):
                digest = push_one_image(client, "bench/big")
                with psycopg.connect(database_url, autocommit=True) as connection:
                    started = time.perf_counter()
                    connection.execute(
                        "INSERT INTO tags (repository_id, name, manifest_digest, updated_at) "
                        "SELECT r.id, 'tag-' || lpad(g::text, 7, '0'), %s, now() "
                        "FROM repositories r, generate_series(1, %s) g WHERE r.name = 'bench/big'",
                        (digest, arguments.tags),
                    )
                    connection.execute(
                        "INSERT INTO repositories (name, created_at) "
                        "SELECT 'bench/r-' || lpad(g::text, 7, '0'), now() FROM generate_series(1, %s) g",
                        (arguments.repositories,),
                    )
                    connection.execute("ANALYZE")
                    inserted = time.perf_counter() - started
                report = {
                    "tags": arguments.tags,
                    "repositories": arguments.repositories,
                    "insert_seconds": round(inserted, 1),
                    "tags_list": measure(client, "/v2/bench/big/tags/list", arguments.page, arguments.rounds),
                    "catalog": measure(client, "/v2/_catalog", arguments.page, arguments.rounds),
                }
        print(json.dumps(report, indent=2))
    finally:
        with psycopg.connect(arguments.postgres, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
