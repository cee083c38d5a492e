"""Garbage collection over the management API: run a pass (or a dry run) and list past runs."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Request

from moorage.api.manage.problems import Problem
from moorage.api.manage.security import registry_admin
from moorage.gc.collector import CollectionBusy, GarbageCollector

router = APIRouter(tags=["garbage collection"])


@router.post(
    "/gc",
    summary="Run a garbage collection pass now (dry_run=true: report only)",
    dependencies=[Depends(registry_admin)],
)
def run_gc(request: Request, dry_run: bool = False) -> dict[str, Any]:
    collector: GarbageCollector = request.app.state.gc
    try:
        report = collector.run(dry_run=dry_run)
    except CollectionBusy as error:
        raise Problem(409, "Garbage collection in progress", str(error)) from None
    result = asdict(report)
    result["started_at"] = report.started_at.isoformat()
    return result


@router.get("/gc/runs", summary="Recent garbage collection runs", dependencies=[Depends(registry_admin)])
def list_gc_runs(request: Request, limit: int = 20) -> list[dict[str, Any]]:
    collector: GarbageCollector = request.app.state.gc
    return collector.runs(max(1, min(limit, 200)))
