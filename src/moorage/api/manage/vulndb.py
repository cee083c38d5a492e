"""/api/v1/vulnerability-database: import OSV data (registry admins) and show what the database holds.

An import is the file itself as the request body (`all.zip` or a JSON record), streamed to a
temporary file under the data directory (never held in memory whole) and capped by
`vulndb_import_max_bytes`. The server never fetches a URL: `moorage vulndb import URL` downloads
on the client and uploads, so no request can make the registry reach into its own network.
Every import, refused or not, goes to the audit log.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import IO, Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from moorage.api.manage.problems import Problem
from moorage.api.manage.security import authenticated, current_actor, registry_admin
from moorage.domain.access import Actor
from moorage.scanning.vulndb import (
    DatabaseStatus,
    ImportReport,
    InvalidArchive,
    InvalidSource,
    VulnerabilityDatabase,
)

router = APIRouter(tags=["vulnerability database"])

SPOOL_CHUNK = 1024 * 1024
"""Bytes gathered from the request before each write to the temporary file (one thread hop each)."""


class ImportOut(BaseModel):
    source: str
    filename: str
    records_read: int
    records_added: int
    records_updated: int
    records_skipped: int
    database_version: str | None
    imported_at: str
    seconds: float
    bytes: int

    @classmethod
    def of(cls, report: ImportReport, size: int) -> ImportOut:
        values: dict[str, Any] = asdict(report)
        values["imported_at"] = report.imported_at.isoformat()
        return cls(**values, bytes=size)


class SourceOut(BaseModel):
    name: str
    imported_at: str
    filename: str
    records_read: int
    records_stored: int
    imports: int
    records: int


class StatusOut(BaseModel):
    version: str | None
    """Changes with every import that changes records; null before the first import."""
    changed_at: str | None
    records: int
    withdrawn: int
    ecosystems: dict[str, int]
    sources: list[SourceOut]

    @classmethod
    def of(cls, status: DatabaseStatus) -> StatusOut:
        return cls(
            version=status.version,
            changed_at=status.changed_at.isoformat() if status.changed_at else None,
            records=status.records,
            withdrawn=status.withdrawn,
            ecosystems=status.ecosystems,
            sources=[
                SourceOut(**{**asdict(source), "imported_at": source.imported_at.isoformat()})
                for source in status.sources
            ],
        )


def _service(request: Request) -> VulnerabilityDatabase:
    service: VulnerabilityDatabase = request.app.state.vulndb
    return service


@router.get(
    "/vulnerability-database",
    summary="What the vulnerability database holds: version, sources and import times, records per ecosystem",
    dependencies=[Depends(authenticated)],
)
def database_status(request: Request) -> StatusOut:
    return StatusOut.of(_service(request).status())


@router.post(
    "/vulnerability-database/imports",
    summary="Import OSV records: the request body is an all.zip export or a JSON record (registry admins)",
    dependencies=[Depends(registry_admin)],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"type": "object"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def import_records(
    request: Request,
    actor: Annotated[Actor, Depends(current_actor)],
    source: Annotated[
        str, Query(min_length=1, max_length=64, description="Whose data this is: `debian`, `alpine`, `ghsa`…")
    ],
    filename: Annotated[str, Query(max_length=255, description="The uploaded file's name, for the record.")] = "",
) -> ImportOut:
    """Incremental: records not newer (`modified`) than the stored copy are skipped; all or nothing."""
    service = _service(request)
    limit = service.max_import_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, "Upload too large", f"the file is larger than vulndb_import_max_bytes ({limit} bytes)")
    async with _spooled(service) as spool:
        size = await _receive(request, spool, limit)
        if size == 0:
            raise Problem(400, "Invalid OSV data", "the request body is empty: send an all.zip or a JSON record")
        name = filename or "upload"
        try:
            report = await anyio.to_thread.run_sync(service.import_archive, spool, name, source)
        except InvalidSource as error:
            raise Problem(400, "Invalid source", str(error)) from None
        except InvalidArchive as error:
            detail = {"source": source, "filename": name, "bytes": size, "reason": str(error)[:500]}
            await _audit(request, actor, source, detail, outcome="failure")
            raise Problem(400, "Invalid OSV data", str(error)) from None
    result = ImportOut.of(report, size)
    await _audit(request, actor, source, result.model_dump(exclude={"imported_at"}))
    return result


@contextlib.asynccontextmanager
async def _spooled(service: VulnerabilityDatabase) -> AsyncIterator[IO[bytes]]:
    directory = service.staging_dir
    if directory is not None:
        await anyio.to_thread.run_sync(lambda: directory.mkdir(parents=True, exist_ok=True))
    spool = await anyio.to_thread.run_sync(lambda: tempfile.TemporaryFile(dir=directory, prefix="vulndb-"))  # noqa: SIM115 - closed below
    try:
        yield spool
    finally:
        await anyio.to_thread.run_sync(spool.close)


async def _receive(request: Request, spool: IO[bytes], limit: int) -> int:
    """Copy the body to `spool` in 1 MiB writes; 413 as soon as it passes `limit`."""
    size = 0
    pending = bytearray()
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, "Upload too large", f"the file is larger than vulndb_import_max_bytes ({limit} bytes)")
        pending += chunk
        if len(pending) >= SPOOL_CHUNK:
            data, pending = bytes(pending), bytearray()
            await anyio.to_thread.run_sync(spool.write, data)
    if pending:
        await anyio.to_thread.run_sync(spool.write, bytes(pending))
    return size


async def _audit(request: Request, actor: Actor, source: str, detail: dict[str, Any], outcome: str = "success") -> None:
    audit = request.app.state.governance.audit
    await anyio.to_thread.run_sync(
        lambda: audit.record("vulndb.import", actor, target=source, outcome=outcome, detail=detail)
    )
