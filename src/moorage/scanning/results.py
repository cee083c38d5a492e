"""Reading scan results: what the findings API, describe-images and the gates ask about a digest.

`ScanResults.report(digest)` is called on manifest pulls by the gates, so it is cheap: one indexed
read of the row's revision, and the report itself comes from a small in-process cache keyed by that
revision (the findings are read again only after the scan changed, on any node).

An index is never scanned itself; its report aggregates the image manifests it lists:
- status: FAILED if any child failed; else PENDING / IN_PROGRESS while any child is not finished
  (IN_PROGRESS once any has started); else COMPLETE if any child is complete (children that are
  UNSUPPORTED_IMAGE, such as build attestations, are left out); else UNSUPPORTED_IMAGE;
- findings: the union of the children's, each (vulnerability, package URL) once;
- database version: the children's, joined by `, ` when they differ; completed at: the latest.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from moorage.metadata import scans
from moorage.metadata.database import Database
from moorage.metadata.scans import ScanRow
from moorage.scanning.model import Finding, ScanReport, ScanStatus, Severity
from moorage.scanning.records import finding_from

CACHE_SIZE = 512
UNFINISHED = (ScanStatus.PENDING, ScanStatus.IN_PROGRESS)


@dataclass(frozen=True)
class ScanSummary:
    """A scan's state and counts without its findings (describe-images, listings)."""

    digest: str
    status: ScanStatus
    reason: str | None
    database_version: str | None
    completed_at: datetime | None
    counts: dict[Severity, int]


@dataclass(frozen=True)
class FindingsPage:
    summary: ScanSummary
    findings: tuple[tuple[int, Finding], ...]
    """(cursor id, finding), worst first."""
    next: int | None
    total: int
    """Findings at or above the filter's severity."""


def _counts(raw: dict[str, int] | None) -> dict[Severity, int]:
    totals = dict.fromkeys(Severity, 0)
    for key, value in (raw or {}).items():
        if key in Severity.__members__:
            totals[Severity(key)] += int(value)
    return totals


def _status(value: str) -> ScanStatus:
    try:
        return ScanStatus(value)
    except ValueError:
        return ScanStatus.FAILED


class ScanResults:
    def __init__(self, database: Database, cache_size: int = CACHE_SIZE) -> None:
        self.database = database
        self.cache_size = cache_size
        self._cache: OrderedDict[str, tuple[object, ScanReport]] = OrderedDict()
        self._lock = threading.Lock()

    # -- the gates' call ---------------------------------------------------------------------------

    def report(self, digest: str) -> ScanReport | None:
        """The latest result of an image (or index) digest with its findings, or None if never asked for."""
        with self.database.read() as connection:
            found = scans.revisions(connection, [digest])
            if digest not in found:
                return None
            revision, children = found[digest]
            key: object = revision
            if children is not None:
                key = (revision, tuple(sorted(scans.revisions(connection, children).items())))
            cached = self._cached(digest, key)
            if cached is not None:
                return cached
            report = self._index_report(connection, digest, children) if children is not None else None
            if report is None:
                report = self._image_report(connection, digest)
        if report is not None:
            self._remember(digest, key, report)
        return report

    def _cached(self, digest: str, key: object) -> ScanReport | None:
        with self._lock:
            entry = self._cache.get(digest)
            if entry is None or entry[0] != key:
                return None
            self._cache.move_to_end(digest)
            return entry[1]

    def _remember(self, digest: str, key: object, report: ScanReport) -> None:
        with self._lock:
            self._cache[digest] = (key, report)
            self._cache.move_to_end(digest)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def _image_report(self, connection: sa.Connection, digest: str) -> ScanReport | None:
        row = scans.get(connection, digest)
        if row is None:
            return None
        status = _status(row.status)
        findings: tuple[Finding, ...] = ()
        if status == ScanStatus.COMPLETE:
            findings = tuple(finding_from(found.document) for found in scans.findings(connection, digest))
        return ScanReport(row.digest, status, row.reason, row.database_version, row.completed_at, findings)

    def _index_report(self, connection: sa.Connection, digest: str, children: Sequence[str]) -> ScanReport:
        reports = [self._image_report(connection, child) for child in children]
        return aggregate(digest, [r for r in reports if r is not None], missing=sum(r is None for r in reports))

    # -- the API's calls ---------------------------------------------------------------------------

    def summaries(self, digests: Sequence[str]) -> dict[str, ScanSummary]:
        """Summaries of those digests that have a scan (indexes aggregated), for listings."""
        with self.database.read() as connection:
            rows = scans.of_digests(connection, digests)
        found: dict[str, ScanSummary] = {}
        for digest, row in rows.items():
            if row.index_of is None:
                found[digest] = _summary(row)
            else:
                report = self.report(digest)  # aggregated, each vulnerability once; cached
                if report is not None:
                    found[digest] = summary_of(report)
        return found

    def findings_page(
        self, digest: str, at_least: Severity = Severity.UNKNOWN, after: int | None = None, limit: int = 100
    ) -> FindingsPage | None:
        """A page of findings at or above `at_least`, worst first; None if the digest was never scanned."""
        report_of_index = None
        with self.database.read() as connection:
            row = scans.get(connection, digest)
            if row is None:
                return None
            if row.index_of is None:
                summary = _summary(row)
                page = scans.findings(connection, digest, at_least.rank, after, limit + 1)
                total = scans.finding_count(connection, digest, at_least.rank)
                items = tuple((found.id, finding_from(found.document)) for found in page[:limit])
                more = len(page) > limit
                return FindingsPage(summary, items, items[-1][0] if more and items else None, total)
        report_of_index = self.report(digest)
        assert report_of_index is not None
        # An index's findings are few pages at most: they are aggregated in memory, the cursor is a position.
        chosen = [f for f in report_of_index.findings if f.severity.at_least(at_least)]
        start = after or 0
        items = tuple((start + i + 1, f) for i, f in enumerate(chosen[start : start + limit]))
        more = start + limit < len(chosen)
        return FindingsPage(summary_of(report_of_index), items, start + limit if more else None, len(chosen))


def summary_of(report: ScanReport) -> ScanSummary:
    return ScanSummary(
        report.digest, report.status, report.reason, report.database_version, report.completed_at, report.counts()
    )


def _summary(row: ScanRow) -> ScanSummary:
    return ScanSummary(
        row.digest, _status(row.status), row.reason, row.database_version, row.completed_at, _counts(row.counts)
    )


def _aggregate_status(statuses: Sequence[ScanStatus], missing: int) -> ScanStatus:
    if ScanStatus.FAILED in statuses:
        return ScanStatus.FAILED
    if missing or any(status in UNFINISHED for status in statuses):
        return ScanStatus.IN_PROGRESS if ScanStatus.IN_PROGRESS in statuses else ScanStatus.PENDING
    if ScanStatus.COMPLETE in statuses:
        return ScanStatus.COMPLETE
    return ScanStatus.UNSUPPORTED_IMAGE


def aggregate(digest: str, children: Sequence[ScanReport], missing: int = 0) -> ScanReport:
    """An index's report from its image manifests' reports (the rule in the module's docstring)."""
    status = _aggregate_status([child.status for child in children], missing)
    reasons = [f"{child.digest}: {child.reason}" for child in children if child.status == ScanStatus.FAILED]
    if status == ScanStatus.UNSUPPORTED_IMAGE:
        reasons = [f"{child.digest}: {child.reason}" for child in children]
    seen: set[tuple[str, str]] = set()
    findings: list[Finding] = []
    complete = [child for child in children if child.status == ScanStatus.COMPLETE]
    for child in complete:
        for finding in child.findings:
            key = (finding.vulnerability_id, finding.package.purl)
            if key not in seen:
                seen.add(key)
                findings.append(finding)
    findings.sort(key=lambda f: (-f.severity.rank, f.vulnerability_id, f.package.name))
    versions = sorted({child.database_version for child in complete if child.database_version})
    moments = [child.completed_at for child in complete if child.completed_at is not None]
    return ScanReport(
        digest,
        status,
        "; ".join(reasons) or None,
        ", ".join(versions) or None,
        max(moments) if moments and status == ScanStatus.COMPLETE else None,
        tuple(findings) if status == ScanStatus.COMPLETE else (),
    )
