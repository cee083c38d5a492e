"""CPU cost of one image pull on a node of the cluster shape (PostgreSQL + S3 with redirects), for sizing.

    python -m benchmarks.node_capacity [--requests 4000] [--concurrency 8] [--layers 5]
                                       [--postgres postgresql://postgres@127.0.0.1:5432/test]

Starts SeaweedFS and one `moorage serve` on a fresh PostgreSQL database with `s3_redirect_seconds`,
pushes an image of `--layers` layers, then drives each request of a pull with `hey` (as containerd
pulls: HEAD the manifest by tag, GET it by digest, GET the config and each layer, which answer
307 to the object store) and reads the CPU time the moorage process tree and the PostgreSQL
server burnt per request. CPU per request stays readable on a shared machine where wall-clock
rates do not (docs/benchmarks.md, "Noise"). Prints one JSON document; docs/deployment.md turns it
into a node count.
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import psycopg

from benchmarks.large_listings import push_one_image
from benchmarks.processes import free_port, running, tree_cpu_seconds
from tests.support.object_store import start_object_store

MANIFEST_ACCEPT = "application/vnd.oci.image.manifest.v1+json"


def database_cpu_seconds(admin_url: str, database: str) -> float:
    """CPU time of the PostgreSQL backends serving `database` (the node's pooled connections).

    Only that database's backends count, so other users of the same PostgreSQL server do not
    inflate the figure; a backend that exited during the run would be missed (pools keep theirs).
    """
    with psycopg.connect(admin_url, autocommit=True) as connection:
        pids = [
            row[0] for row in connection.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,))
        ]
    total = 0.0
    for pid in pids:
        total += tree_cpu_seconds(pid)
    return total


def cpu_per_request(
    server_pid: int, database: tuple[str, str], url: str, method: str, requests: int, concurrency: int
) -> dict[str, Any]:
    before = (tree_cpu_seconds(server_pid), database_cpu_seconds(*database))
    command = ["hey", "-n", str(requests), "-c", str(concurrency), "-m", method, "-disable-redirects"]
    output = subprocess.run([*command, "-H", f"Accept: {MANIFEST_ACCEPT}", url], capture_output=True, text=True)
    after = (tree_cpu_seconds(server_pid), database_cpu_seconds(*database))
    statuses = [line.strip() for line in output.stdout.splitlines() if line.strip().startswith("[")]
    return {
        "moorage_cpu_us": round((after[0] - before[0]) / requests * 1e6, 1),
        "postgres_cpu_us": round((after[1] - before[1]) / requests * 1e6, 1),
        "statuses": ", ".join(statuses),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=8, help="at most the pool size (10), so backends persist")
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    arguments = parser.parse_args(argv)

    database = f"moorage_bench_{secrets.token_hex(4)}"
    with psycopg.connect(arguments.postgres, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    database_url = arguments.postgres.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    object_store = start_object_store()
    try:
        with tempfile.TemporaryDirectory(prefix="moorage-capacity-") as work:
            port = free_port()
            bucket = object_store.new_bucket()
            settings = {**object_store.registry_settings(bucket), "s3_redirect_seconds": "300"}
            env = {"PATH": "/usr/bin:/bin", **{f"MOORAGE_{key.upper()}": value for key, value in settings.items()}}
            command = [sys.executable, "-m", "moorage", "serve", "--port", str(port), "--data-dir", f"{work}/data"]
            command += ["--database-url", f"{database_url}/{database}"]
            log = Path(work) / "server.log"
            with running("moorage", command, f"http://127.0.0.1:{port}", log, "/v2/", env) as server:
                base = f"http://127.0.0.1:{port}"
                with httpx.Client(base_url=base, timeout=60) as client:
                    digest = push_one_image(client, "bench/pull")
                    manifest = client.get(f"/v2/bench/pull/manifests/{digest}", headers={"Accept": MANIFEST_ACCEPT})
                    layer = manifest.json()["layers"][0]["digest"]
                server_pid = server.process.pid
                database_pid = (arguments.postgres, database)
                run = (arguments.requests, arguments.concurrency)
                requests = {
                    "manifest_head_by_tag": cpu_per_request(
                        server_pid, database_pid, f"{base}/v2/bench/pull/manifests/seed", "HEAD", *run
                    ),
                    "manifest_get_by_digest": cpu_per_request(
                        server_pid, database_pid, f"{base}/v2/bench/pull/manifests/{digest}", "GET", *run
                    ),
                    "blob_get_redirect": cpu_per_request(
                        server_pid, database_pid, f"{base}/v2/bench/pull/blobs/{layer}", "GET", *run
                    ),
                }
        per_pull = {
            side: round(
                requests["manifest_head_by_tag"][side]
                + requests["manifest_get_by_digest"][side]
                + (arguments.layers + 1) * requests["blob_get_redirect"][side],
                1,
            )
            for side in ("moorage_cpu_us", "postgres_cpu_us")
        }
        print(json.dumps({"layers": arguments.layers, "requests": requests, "per_pull": per_pull}, indent=2))
    finally:
        object_store.stop()
        with psycopg.connect(arguments.postgres, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
