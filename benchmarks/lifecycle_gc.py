"""Scale benchmark of lifecycle evaluation and garbage collection on synthetic metadata.

    python -m benchmarks.lifecycle_gc [--manifests 100000] [--blobs 1000000] [--database-url URL]

Bulk-inserts repositories, manifests (with tags and references) and blob records straight into a
fresh metadata store (SQLite in a temporary directory by default), then measures, with the real
services: a full lifecycle evaluation (the preview of every repository's policy), a GC dry run,
and a real GC pass that removes the unreferenced tenth of the blobs. Blob bytes are not created:
the pass exercises the metadata work, and deleting absent files costs one failed unlink each.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from moorage.gc.collector import GarbageCollector
from moorage.lifecycle.in_force import REPOSITORY
from moorage.lifecycle.service import LifecycleService
from moorage.metadata.database import Database
from moorage.metadata.tables import (
    blobs,
    manifest_references,
    manifests,
    repositories,
    repository_blobs,
    tags,
)
from moorage.storage.filesystem import FilesystemBlobStore

POLICY = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": ["release-"],
                "countType": "imageCountMoreThan",
                "countNumber": 100,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 14,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 3,
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 400},
            "action": {"type": "expire"},
        },
    ]
}
CHUNK = 20_000


def digest(kind: str, number: int) -> str:
    return "sha256:" + hashlib.sha256(f"{kind}{number}".encode()).hexdigest()


def chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def populate(database: Database, manifest_count: int, blob_count: int, repository_count: int) -> None:
    """Every manifest references (blob_count * 0.9 / manifest_count) blobs of its own; a tenth are garbage."""
    now = datetime.now(UTC)
    old = now - timedelta(days=60)
    per_manifest = max(1, int(blob_count * 0.9) // manifest_count)
    referenced = per_manifest * manifest_count
    per_repository = manifest_count // repository_count
    with database.write() as connection:
        connection.execute(
            sa.insert(repositories),
            [{"id": r + 1, "name": f"bench/repo{r}", "created_at": old} for r in range(repository_count)],
        )

        def blob_rows() -> Iterator[dict[str, Any]]:
            for b in range(blob_count):
                yield {"digest": digest("blob", b), "size": 1000 + b % 5000, "created_at": old}

        def link_rows() -> Iterator[dict[str, Any]]:
            for b in range(blob_count):
                m = b // per_manifest if b < referenced else b % manifest_count
                yield {"repository_id": m // per_repository + 1, "digest": digest("blob", b), "created_at": old}

        def manifest_rows() -> Iterator[dict[str, Any]]:
            for m in range(manifest_count):
                yield {
                    "id": m + 1,
                    "repository_id": m // per_repository + 1,
                    "digest": digest("manifest", m),
                    "media_type": "application/vnd.oci.image.manifest.v1+json",
                    "size": 800,
                    "payload": b"{}",
                    "pushed_at": now - timedelta(minutes=manifest_count - m),
                }

        def reference_rows() -> Iterator[dict[str, Any]]:
            for b in range(referenced):
                yield {"manifest_id": b // per_manifest + 1, "kind": "blob", "digest": digest("blob", b)}

        def tag_rows() -> Iterator[dict[str, Any]]:
            for m in range(0, manifest_count, 2):  # half the images tagged
                yield {
                    "repository_id": m // per_repository + 1,
                    "name": f"release-{m}",
                    "manifest_digest": digest("manifest", m),
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
    with database.engine.connect() as connection:  # statistics, as autovacuum would gather them
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    database.engine.dispose()


def measure(label: str, results: dict[str, Any], function: Any) -> Any:
    started = time.perf_counter()
    value = function()
    results[label] = round(time.perf_counter() - started, 2)
    print(f"{label}: {results[label]} s", flush=True)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifests", type=int, default=100_000)
    parser.add_argument("--blobs", type=int, default=1_000_000)
    parser.add_argument("--repositories", type=int, default=100)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temporary directory")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moorage-bench-") as scratch:
        root = Path(scratch)
        url = arguments.database_url or f"sqlite:///{root / 'metadata.db'}"
        database = Database(url)
        database.migrate()
        results: dict[str, Any] = {
            "manifests": arguments.manifests,
            "blobs": arguments.blobs,
            "backend": database.engine.dialect.name,
        }
        measure(
            "populate_seconds",
            results,
            lambda: populate(database, arguments.manifests, arguments.blobs, arguments.repositories),
        )
        lifecycle = LifecycleService(database)
        for r in range(arguments.repositories):  # policies are per repository (namespaces give them by template)
            lifecycle.put_policy(REPOSITORY, f"bench/repo{r}", POLICY)

        def evaluate_all() -> int:
            return sum(
                len(lifecycle.preview(f"bench/repo{r}").evaluation.expired) for r in range(arguments.repositories)
            )

        results["images_expiring"] = measure("lifecycle_evaluation_seconds", results, evaluate_all)
        collector = GarbageCollector(
            database, FilesystemBlobStore(root / "store"), timedelta(days=1), timedelta(days=1), batch_size=1000
        )
        dry = measure("gc_dry_run_seconds", results, lambda: collector.run(dry_run=True))
        real = measure("gc_pass_seconds", results, lambda: collector.run())
        results["gc_blobs_deleted"] = real.blobs_deleted
        results["gc_dry_run_blobs"] = dry.blobs_deleted
        results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print(json.dumps(results, indent=2))
        database.dispose()


if __name__ == "__main__":
    main()
