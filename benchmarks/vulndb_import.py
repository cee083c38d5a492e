"""Import time of 100,000 OSV records, and match time of a 1,000-package image, on a fresh metadata store.

    python -m benchmarks.vulndb_import [--records 100000] [--database-url URL]

Generates an `all.zip` of synthetic records shaped like real ones (PyPI, npm, Debian and Alpine
records with ranges, aliases, references and a CVSS vector; ~1.5 KB of JSON each) in a temporary
file, then times, with the real `VulnerabilityDatabase`: the first import (every record stored),
a second import of the same file (every record read and skipped as not newer), an import where a
tenth of the records are newer, and `match` of an image of 1,000 packages, a quarter of which are
named by records. SQLite in a temporary directory by default; `--database-url` runs it on
PostgreSQL (an empty database: the migrations run first).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moorage.metadata.database import Database
from moorage.scanning.model import Distro, Inventory, Package
from moorage.scanning.vulndb import VulnerabilityDatabase

ECOSYSTEMS = (
    ("PyPI", "PyPI", "1.{minor}.0"),
    ("npm", "npm", "2.{minor}.1"),
    ("Debian:12", "Debian:12", "1.{minor}-1"),
    ("Alpine:v3.20", "Alpine:v3.20", "1.{minor}-r0"),
)
PACKAGES_PER_ECOSYSTEM = 2500
"""Distinct package names per ecosystem; 100,000 records name them ten times over each."""


def synthetic_record(number: int, modified: str) -> dict[str, Any]:
    ecosystem, _, fixed = ECOSYSTEMS[number % len(ECOSYSTEMS)]
    name = f"package-{(number // len(ECOSYSTEMS)) % PACKAGES_PER_ECOSYSTEM}"
    return {
        "schema_version": "1.6.0",
        "id": f"BENCH-{number:07d}",
        "modified": modified,
        "published": "2024-01-01T00:00:00Z",
        "aliases": [f"CVE-2099-{number:07d}"],
        "summary": f"Synthetic benchmark record {number} (not a real advisory)",
        "details": "A made-up flaw for measuring imports. " * 8,
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"}],
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": "0"}, {"fixed": fixed.format(minor=number % 50 + 1)}],
                    }
                ],
            }
        ],
        "references": [
            {"type": "ADVISORY", "url": f"https://example.invalid/advisories/BENCH-{number:07d}"},
            {"type": "WEB", "url": f"https://example.invalid/issues/{number}"},
        ],
        "database_specific": {"severity": "MODERATE"},
    }


def write_archive(path: Path, records: int, newer_every: int = 0) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for number in range(records):
            newer = newer_every and number % newer_every == 0
            modified = "2025-06-01T00:00:00Z" if newer else "2025-01-01T00:00:00Z"
            archive.writestr(f"BENCH-{number:07d}.json", json.dumps(synthetic_record(number, modified), indent=2))


def image() -> Inventory:
    packages = []
    for index in range(1000):
        ecosystem, _, version = ECOSYSTEMS[index % len(ECOSYSTEMS)]
        number = index // len(ECOSYSTEMS)
        named = number % 4 == 0  # a quarter are named by records (ten each); the rest by none
        name = f"package-{number}" if named else f"unrelated-{index}"
        packages.append(Package(name, version.format(minor=25), ecosystem, f"pkg:generic/{name}"))
    return Inventory(Distro("debian", "12"), tuple(packages))


def timed(results: dict[str, Any], label: str, action: Callable[[], Any]) -> Any:
    """Wall seconds and this process's CPU seconds (on a shared machine the CPU time is the steadier figure;
    PostgreSQL's own work is in the wall time only)."""
    started, cpu = time.perf_counter(), time.process_time()
    value = action()
    results[label] = {"wall": round(time.perf_counter() - started, 2), "cpu": round(time.process_time() - cpu, 2)}
    print(f"{label}: {results[label]['wall']} s wall, {results[label]['cpu']} s CPU", flush=True)
    return value


def run(database: Database, records: int, work: Path) -> dict[str, Any]:
    vulndb = VulnerabilityDatabase(database)
    archive, updated = work / "all.zip", work / "updated.zip"
    results: dict[str, Any] = {}
    timed(results, "generate all.zip (set-up)", lambda: write_archive(archive, records))
    results["archive_bytes"] = archive.stat().st_size

    def load(path: Path) -> Any:
        with path.open("rb") as stream:
            return vulndb.import_archive(stream, path.name, "benchmark")

    first = timed(results, f"first import, {records} records", lambda: load(archive))
    assert first.records_added == records, first
    again = timed(results, "same file again (all skipped)", lambda: load(archive))
    assert again.records_skipped == records, again
    write_archive(updated, records, newer_every=10)
    changed = timed(results, "a tenth newer", lambda: load(updated))
    assert changed.records_updated == records // 10, changed
    inventory = image()
    found = timed(results, "match 1,000 packages", lambda: vulndb.match(inventory))
    results["findings"] = len(found.findings)
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temporary directory")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moorage-vulndb-bench-") as folder:
        work = Path(folder)
        database = Database(arguments.database_url or f"sqlite:///{work / 'metadata.db'}")
        database.migrate()
        try:
            results = run(database, arguments.records, work)
        finally:
            database.dispose()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
