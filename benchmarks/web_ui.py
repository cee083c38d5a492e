"""Server time of the web UI's pages on a repository with 10,000 tags.

    python -m benchmarks.web_ui [--tags 10000] [--requests 30] [--database-url URL]

Bulk-inserts one repository (`bench/app`) with `--tags` images, one tag each (config and one layer,
real manifest JSON), plus 99 small repositories of 20 images each, into a fresh metadata store; builds the real app
with authentication on, signs in through the UI's own form, and times requests in process (ASGI, no
network: the figures are server time, wall clock and the process's CPU) for the pages a user opens
first. The target: the first page of the 10,000-tag repository in under 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from moorage.app import create_app
from moorage.config import Settings
from moorage.metadata.database import Database
from moorage.metadata.tables import blobs, manifest_references, manifests, repositories, repository_blobs, tags
from moorage.startup import prepare

PASSWORD = "bench-password-0123456789"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CHUNK = 5_000


def chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def digest(kind: str, number: int) -> str:
    return "sha256:" + hashlib.sha256(f"{kind}{number}".encode()).hexdigest()


def manifest_payload(number: int) -> bytes:
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest("c", number), "size": 500},
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest("l", number),
                "size": 1_000_000 + number,
            }
        ],
    }
    return json.dumps(document, separators=(",", ":")).encode()


def populate(database: Database, tag_count: int, small_repositories: int) -> None:
    now = datetime.now(UTC)
    with database.write() as connection:
        names = ["bench/app", *[f"bench/small{n:03d}" for n in range(small_repositories)]]
        connection.execute(
            sa.insert(repositories), [{"id": i + 1, "name": n, "created_at": now} for i, n in enumerate(names)]
        )

        small = 20
        owner = {m: 1 for m in range(tag_count)}
        for r in range(small_repositories):
            for k in range(small):
                owner[tag_count + r * small + k] = r + 2
        total = len(owner)

        def blob_rows() -> Iterator[dict[str, Any]]:
            for m in range(total):
                yield {"digest": digest("c", m), "size": 500, "created_at": now}
                yield {"digest": digest("l", m), "size": 1_000_000 + m, "created_at": now}

        def link_rows() -> Iterator[dict[str, Any]]:
            for m in range(total):
                for kind in ("c", "l"):
                    yield {"repository_id": owner[m], "digest": digest(kind, m), "created_at": now}

        def manifest_rows() -> Iterator[dict[str, Any]]:
            for m in range(total):
                payload = manifest_payload(m)
                yield {
                    "id": m + 1,
                    "repository_id": owner[m],
                    "digest": "sha256:" + hashlib.sha256(payload).hexdigest(),
                    "media_type": OCI_MANIFEST,
                    "size": len(payload),
                    "payload": payload,
                    "pushed_at": now - timedelta(minutes=total - m),
                }

        def reference_rows() -> Iterator[dict[str, Any]]:
            for m in range(total):
                for kind in ("c", "l"):
                    yield {"manifest_id": m + 1, "kind": "blob", "digest": digest(kind, m)}

        def tag_rows() -> Iterator[dict[str, Any]]:
            for m in range(total):
                payload = manifest_payload(m)
                yield {
                    "repository_id": owner[m],
                    "name": f"v{m}",
                    "manifest_digest": "sha256:" + hashlib.sha256(payload).hexdigest(),
                    "updated_at": now,
                }

        for table, rows in (
            (blobs, blob_rows()),
            (repository_blobs, link_rows()),
            (manifests, manifest_rows()),
            (manifest_references, reference_rows()),
            (tags, tag_rows()),
        ):
            for batch in chunks(rows):
                connection.execute(sa.insert(table), batch)
    with database.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    database.dispose()


async def time_pages(app: Any, pages: dict[str, str], requests: int) -> dict[str, dict[str, float]]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as client:
        form = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form.text)
        assert token is not None
        signed_in = await client.post(
            "/login", data={"csrf_token": token.group(1), "username": "admin", "password": PASSWORD, "next": "/"}
        )
        assert signed_in.status_code == 303, signed_in.text
        results = {}
        for label, path in pages.items():
            first = await client.get(path)
            assert first.status_code == 200, (path, first.status_code, first.text[:500])
            times, cpu = [], []
            for _ in range(requests):
                started, started_cpu = time.perf_counter(), time.process_time()
                response = await client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
                assert response.status_code == 200
            times.sort()
            results[label] = {
                "median_ms": round(statistics.median(times), 1),
                "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
                "cpu_median_ms": round(statistics.median(cpu), 1),
                "bytes": len(first.content),
            }
            row = results[label]
            print(
                f"{label:40} median {row['median_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms  "
                f"CPU {row['cpu_median_ms']:6.1f} ms"
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temporary directory")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moorage-web-bench-") as scratch:
        settings = Settings(
            data_dir=Path(scratch) / "data",
            database_url=arguments.database_url,
            auth_enabled=True,
            admin_password=PASSWORD,
            lifecycle_interval_seconds=0,
            gc_interval_seconds=0,
        )
        prepare(settings)
        database = Database(settings.metadata_url())
        started = time.perf_counter()
        populate(database, arguments.tags, 99)
        print(f"populate: {time.perf_counter() - started:.1f} s ({arguments.tags} tags)")
        newest = hashlib.sha256(manifest_payload(arguments.tags - 1)).hexdigest()
        pages = {
            f"repository, first page ({arguments.tags} tags)": "/repositories/bench/app",
            "repository, page 100 (keyset)": f"/repositories/bench/app?show=tagged&after={arguments.tags - 5000}",
            "repository list (first 25)": "/repositories",
            "image": f"/repositories/bench/app/-/images/sha256:{newest}",
            "tag history with a point in time": "/repositories/bench/app/-/tags/v1/history?at=2030-01-01T00:00",
            "settings": "/repositories/bench/app/-/settings",
        }
        results = asyncio.run(time_pages(create_app(settings), pages, arguments.requests))
        print(json.dumps({"tags": arguments.tags, "backend": database.engine.dialect.name, "pages": results}, indent=2))


if __name__ == "__main__":
    main()
