"""Writing scan results into a running registry's metadata store, as the scan job would.

The gate reads results through `scanning.results.ScanResults`; these helpers write them through
the same store functions the scan job uses (`metadata.scans`), so a test decides what an image's
scan found without a vulnerability database.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from moorage.metadata import scans
from moorage.metadata.database import Database
from moorage.scanning.model import Finding, Package, Severity
from moorage.scanning.records import finding_document
from tests.support.server import RunningRegistry

OPENSSL = Package("openssl", "3.0.11-1", "Debian:12", "pkg:deb/debian/openssl@3.0.11-1?distro=debian-12")


@contextlib.contextmanager
def metadata_of(server: RunningRegistry) -> Iterator[Database]:
    assert server.data_dir is not None or server.database_url is not None
    url = server.database_url or f"sqlite:///{server.data_dir / 'metadata.db'}"  # type: ignore[operator]
    database = Database(url)
    try:
        yield database
    finally:
        database.dispose()


def vulnerability(identifier: str, severity: Severity, *aliases: str) -> Finding:
    return Finding(identifier, OPENSSL, severity, aliases=aliases, summary=f"test finding {identifier}")


def record_scan(
    server: RunningRegistry, digest: str, status: str = "COMPLETE", findings: Sequence[Finding] = (), reason: str = ""
) -> None:
    """Store a finished scan of `digest` (status COMPLETE, FAILED or UNSUPPORTED_IMAGE) with its findings."""
    rows = [(f.severity.rank, f.vulnerability_id, finding_document(f)) for f in findings]
    counts = {severity.value: sum(f.severity is severity for f in findings) for severity in Severity}
    with metadata_of(server) as database, database.write() as connection:
        scans.finish(connection, digest, status, reason or None, "test-db-1", None, rows, counts)


def record_index(server: RunningRegistry, digest: str, children: Sequence[str]) -> None:
    """Record an index whose result is its children's (as the scan job does for an index)."""
    with metadata_of(server) as database, database.write() as connection:
        scans.request_index(connection, digest, list(children))
