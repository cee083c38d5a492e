"""Building the management API: one router per resource, mounted under /api/v1."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

from moorage import __version__
from moorage.api.manage.problems import document_problems, install_problem_handlers

PREFIX = "/api/v1"

system = APIRouter(tags=["system"])


@system.get("/system/info", summary="Version of the running registry")
async def system_info() -> dict[str, str]:
    return {"name": "moorage", "version": __version__}


def create_management_api(state: dict[str, Any], routers: list[APIRouter] | None = None) -> FastAPI:
    """The FastAPI app; `state` holds the services the routers use (as `request.app.state.<name>`)."""
    app = FastAPI(
        title="moorage management API",
        version=__version__,
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
    )
    for name, value in state.items():
        setattr(app.state, name, value)
    install_problem_handlers(app)
    app.include_router(system, prefix=PREFIX)
    for router in routers or []:
        app.include_router(router, prefix=PREFIX)
    document_problems(app)
    return app
