"""An index's report is its platforms' (the rule in scanning/results.py), and reports are cached by revision."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from moorage.metadata import scans
from moorage.metadata.database import Database
from moorage.scanning.model import Finding, Package, ScanReport, ScanStatus, Severity
from moorage.scanning.records import finding_document, finding_from
from moorage.scanning.results import ScanResults, aggregate

OPENSSL = Package("libssl3", "3.0.11-1", "Debian:12", "pkg:deb/debian/libssl3@3.0.11-1", source_name="openssl")
JINJA = Package("jinja2", "3.1.2", "PyPI", "pkg:pypi/jinja2@3.1.2")
CVE = Finding("CVE-2026-0001", OPENSSL, Severity.HIGH, aliases=("DSA-1",), fixed_version="3.0.15-1", cvss_score=7.5)
GHSA = Finding("GHSA-h5c8-rqwp-cp95", JINJA, Severity.MEDIUM, fixed_version="3.1.3", links=("https://x.invalid",))
MOMENT = datetime(2026, 12, 6, tzinfo=UTC)


def report(digest: str, status: ScanStatus, *findings: Finding, reason: str | None = None) -> ScanReport:
    return ScanReport(digest, status, reason, "7-db", MOMENT if status == ScanStatus.COMPLETE else None, findings)


def test_an_index_of_complete_platforms_reports_each_vulnerability_once_worst_first() -> None:
    merged = aggregate("idx", [report("a", ScanStatus.COMPLETE, GHSA, CVE), report("b", ScanStatus.COMPLETE, CVE)])
    assert merged.status == ScanStatus.COMPLETE and merged.findings == (CVE, GHSA)
    assert merged.counts()[Severity.HIGH] == 1 and merged.database_version == "7-db"


def test_attestations_and_other_unsupported_platforms_are_left_out_of_an_index() -> None:
    merged = aggregate("idx", [report("a", ScanStatus.COMPLETE, CVE), report("att", ScanStatus.UNSUPPORTED_IMAGE)])
    assert merged.status == ScanStatus.COMPLETE and merged.findings == (CVE,)
    only = aggregate("idx", [report("att", ScanStatus.UNSUPPORTED_IMAGE, reason="an artifact")])
    assert only.status == ScanStatus.UNSUPPORTED_IMAGE and only.reason == "att: an artifact"


def test_an_index_is_unfinished_while_a_platform_is_and_failed_when_one_failed() -> None:
    complete = report("a", ScanStatus.COMPLETE, CVE)
    assert aggregate("idx", [complete], missing=1).status == ScanStatus.PENDING
    assert aggregate("idx", [complete, report("b", ScanStatus.IN_PROGRESS)]).status == ScanStatus.IN_PROGRESS
    failed = aggregate("idx", [complete, report("b", ScanStatus.FAILED, reason="corrupt layer")])
    assert failed.status == ScanStatus.FAILED and failed.reason == "b: corrupt layer" and failed.findings == ()


def test_a_finding_survives_its_stored_document() -> None:
    for finding in (CVE, GHSA):
        assert finding_from(finding_document(finding)) == finding


def test_a_report_is_read_again_only_after_the_scan_changed(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'metadata.db'}")
    database.migrate()
    results = ScanResults(database)
    assert results.report("sha256:a") is None
    with database.write() as connection:
        scans.request(connection, "sha256:a")
    assert results.report("sha256:a") == ScanReport("sha256:a", ScanStatus.PENDING)
    with database.write() as connection:
        scans.finish(
            connection,
            "sha256:a",
            ScanStatus.COMPLETE,
            None,
            "7-db",
            None,
            [(3, CVE.vulnerability_id, finding_document(CVE))],
            {"HIGH": 1},
        )
    first = results.report("sha256:a")
    assert first is not None and first.findings == (CVE,) and first.completed_at is not None
    assert results.report("sha256:a") is first  # the cache, checked against the row's revision
    with database.write() as connection:
        scans.request_index(connection, "sha256:idx", ["sha256:a", "sha256:b"])
    index = results.report("sha256:idx")
    assert index is not None and index.status == ScanStatus.PENDING  # b was never scanned
    with database.write() as connection:
        scans.finish(connection, "sha256:b", ScanStatus.COMPLETE, None, "7-db", None, [], {})
    index = results.report("sha256:idx")
    assert index is not None and index.status == ScanStatus.COMPLETE and index.findings == (CVE,)
    assert results.summaries(["sha256:idx", "sha256:a", "sha256:x"]).keys() == {"sha256:idx", "sha256:a"}
    database.dispose()
