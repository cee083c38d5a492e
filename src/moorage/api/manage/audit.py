"""/api/v1/audit: query the audit log, export it as JSON lines, export its chain head, verify its hash chain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from moorage.api.manage.governance import TEXT, as_utc, governance, problems
from moorage.api.manage.schemas import (
    ActorOut,
    AuditEntryOut,
    AuditPage,
    ChainBreakOut,
    ChainHeadOut,
    ChainVerification,
)
from moorage.api.manage.security import current_actor
from moorage.domain.access import Actor
from moorage.governance.audit import AuditEntry, AuditQuery, utc
from moorage.governance.services import Governance

router = APIRouter(tags=["audit"])
JSON_LINES = "application/jsonl"


def entry_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=entry.id,
        at=utc(entry.at),
        action=entry.action,
        repository=entry.repository,
        target=entry.target,
        outcome=entry.outcome,
        actor=ActorOut(kind=entry.actor.kind, name=entry.actor.name, credential=entry.actor.credential),
        source_address=entry.actor.source_address,
        detail=entry.detail,
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )


def audit_query(
    repository: Annotated[str | None, Query(max_length=255, pattern=TEXT)] = None,
    action: Annotated[
        str | None, Query(max_length=64, pattern=TEXT, description="Exact, or a prefix ending in `.`")
    ] = None,
    actor: Annotated[str | None, Query(max_length=255, pattern=TEXT, description="The actor's name.")] = None,
    outcome: Annotated[Literal["success", "denied", "failure"] | None, Query()] = None,
    since: Annotated[datetime | None, Query(description="RFC 3339; without a zone, UTC.")] = None,
    until: Annotated[datetime | None, Query(description="RFC 3339; without a zone, UTC.")] = None,
    after: Annotated[int | None, Query(ge=0, le=2**62, description="Entries after this id (the cursor).")] = None,
) -> AuditQuery:
    return AuditQuery(repository, action, actor, outcome, as_utc(since), as_utc(until), after)


@router.get("/audit", summary="Audit log entries, oldest first, a page at a time")
def query_audit(
    query: Annotated[AuditQuery, Depends(audit_query)],
    caller: Annotated[Actor, Depends(current_actor)],
    services: Annotated[Governance, Depends(governance)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    with problems():
        entries = services.audit.query(caller, AuditQuery(**{**query.__dict__, "limit": limit + 1}))
    more = len(entries) > limit
    entries = entries[:limit]
    return AuditPage(entries=[entry_out(e) for e in entries], next=entries[-1].id if more else None)


@router.get(
    "/audit/export",
    summary="Export audit entries as JSON lines",
    response_class=StreamingResponse,
    responses={200: {"content": {JSON_LINES: {}}, "description": "One JSON object per line."}},
)
def export_audit(
    query: Annotated[AuditQuery, Depends(audit_query)],
    caller: Annotated[Actor, Depends(current_actor)],
    services: Annotated[Governance, Depends(governance)],
    limit: Annotated[int, Query(ge=1, le=10_000_000)] = 10_000_000,
) -> StreamingResponse:
    with problems():
        services.audit.require_reader(caller, query.repository)
    lines = services.audit.export(AuditQuery(**{**query.__dict__, "limit": limit}))
    return StreamingResponse(lines, media_type=JSON_LINES)


@router.get("/audit/head", summary="The newest entry's id and hash (keep it elsewhere; verify against it later)")
def audit_head(
    caller: Annotated[Actor, Depends(current_actor)],
    services: Annotated[Governance, Depends(governance)],
) -> ChainHeadOut:
    with problems():
        head = services.audit.head(caller)
    return ChainHeadOut(id=head.id, hash=head.hash, entries=head.entries)


@router.get("/audit/verify", summary="Re-compute the hash chain; name the first entry changed, removed or inserted")
def verify_audit(
    caller: Annotated[Actor, Depends(current_actor)],
    services: Annotated[Governance, Depends(governance)],
    head: Annotated[
        str | None,
        Query(pattern="^[0-9a-f]{64}$", description="A head hash exported earlier: it must still be in the chain."),
    ] = None,
) -> ChainVerification:
    with problems():
        report = services.audit.verify(caller, head)
    broken = report.first_break
    return ChainVerification(
        valid=report.valid,
        entries=report.entries,
        head=ChainHeadOut(id=report.head_id, hash=report.head_hash, entries=report.entries),
        first_break=None if broken is None else ChainBreakOut(**broken.__dict__),
    )
