"""/api/v1 scan findings (like `aws ecr describe-image-scan-findings`), scans on demand, re-scan everything.

Reading findings needs pull on the repository; asking for a scan needs push (the scan writes an
SBOM into the repository); re-scanning everything is a registry administrator's. The image is
named by tag or digest *in that repository*, so a digest is never a way to read another
repository's results.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from moorage.api.manage.governance import REPOSITORY, problems
from moorage.api.manage.schemas import ScanSummaryOut, Timestamp
from moorage.api.manage.security import on_repository, registry_admin
from moorage.domain.access import Action
from moorage.scanning.model import Finding, Severity
from moorage.scanning.results import ScanSummary
from moorage.scanning.service import ScanningService

router = APIRouter(tags=["scanning"])


class PackageOut(BaseModel):
    name: str
    version: str = Field(..., description="The installed version.")
    ecosystem: str = Field(..., description="The OSV ecosystem (`Debian:12`, `PyPI`…).")
    purl: str
    source_name: str | None = None
    path: str = Field("", description="Where the package was found in the image's file system.")
    layer_digest: str | None = None


class FindingOut(BaseModel):
    id: str = Field(..., description="The vulnerability's id (`CVE-…`, `GHSA-…`, `DSA-…`).")
    aliases: list[str]
    summary: str
    severity: str
    severity_source: str
    cvss_score: float | None
    cvss_vector: str | None
    package: PackageOut
    installed_version: str
    fixed_version: str | None
    links: list[str]


class ScanFindings(BaseModel):
    repository: str
    digest: str
    scan: ScanSummaryOut | None = Field(None, description="Null: the image was never scanned.")
    findings: list[FindingOut]
    total: int = Field(..., description="Findings at or above the `severity` filter.")
    next: int | None = Field(None, description="Pass as `after` to read the next page; null on the last page.")


class ScanRequested(BaseModel):
    repository: str
    digest: str
    scans: list[str] = Field(..., description="Digests whose scans were enqueued (an index: its image manifests).")


class RescanAll(BaseModel):
    enqueued: int
    requested_at: Timestamp | None = None


def scanning(request: Request) -> ScanningService:
    found = request.app.state.scanning
    assert isinstance(found, ScanningService)
    return found


def summary_out(summary: ScanSummary) -> ScanSummaryOut:
    return ScanSummaryOut(
        status=summary.status.value,
        reason=summary.reason,
        database_version=summary.database_version,
        completed_at=summary.completed_at,
        counts={severity.value: count for severity, count in summary.counts.items()},
    )


def finding_out(finding: Finding) -> FindingOut:
    package = finding.package
    return FindingOut(
        id=finding.vulnerability_id,
        aliases=list(finding.aliases),
        summary=finding.summary,
        severity=finding.severity.value,
        severity_source=finding.severity_source,
        cvss_score=finding.cvss_score,
        cvss_vector=finding.cvss_vector,
        package=PackageOut(
            name=package.name,
            version=package.version,
            ecosystem=package.ecosystem,
            purl=package.purl,
            source_name=package.source_name,
            path=package.path,
            layer_digest=package.layer_digest,
        ),
        installed_version=package.version,
        fixed_version=finding.fixed_version,
        links=list(finding.links),
    )


def scan_summaries(request: Request, digests: list[str]) -> dict[str, ScanSummaryOut]:
    """The scan summaries of those digests that were scanned (describe-images shows them per image)."""
    service = getattr(request.app.state, "scanning", None)
    if not isinstance(service, ScanningService) or not digests:
        return {}
    return {digest: summary_out(summary) for digest, summary in service.summaries(digests).items()}


ScanningDep = Annotated[ScanningService, Depends(scanning)]


@router.get(
    REPOSITORY + "/-/scans/{reference}",
    summary="Scan status and findings of an image by tag or digest (like `aws ecr describe-image-scan-findings`)",
    dependencies=[Depends(on_repository(Action.PULL))],
)
def describe_scan_findings(
    name: str,
    reference: str,
    service: ScanningDep,
    severity: Annotated[
        Severity, Query(description="Only findings at or above this severity (`UNKNOWN`: all).")
    ] = Severity.UNKNOWN,
    after: Annotated[int | None, Query(ge=0, le=2**62, description="The `next` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ScanFindings:
    with problems():
        digest, page = service.findings(name, reference, severity, after, limit)
    if page is None:
        return ScanFindings(repository=name, digest=digest, scan=None, findings=[], total=0, next=None)
    return ScanFindings(
        repository=name,
        digest=digest,
        scan=summary_out(page.summary),
        findings=[finding_out(finding) for _, finding in page.findings],
        total=page.total,
        next=page.next,
    )


@router.post(
    REPOSITORY + "/-/scans/{reference}",
    summary="Scan an image now (every platform of an index); the result replaces the previous one when done",
    status_code=202,
    dependencies=[Depends(on_repository(Action.PUSH))],
)
def start_scan(name: str, reference: str, service: ScanningDep) -> ScanRequested:
    with problems():
        digest, digests = service.request(name, reference)
    return ScanRequested(repository=name, digest=digest, scans=digests)


@router.post(
    "/scans/rescan-all",
    summary="Scan every image of the registry again (after a vulnerability database import)",
    status_code=202,
    dependencies=[Depends(registry_admin)],
)
def rescan_all(service: ScanningDep) -> RescanAll:
    return RescanAll(enqueued=service.rescan_all())
