"""The web UI's entry point: its routes, static files and security headers, as one ASGI app.

`moorage serve` mounts it at `/` behind the registry (`/v2/`), the management API (`/api/`) and the
operational routes (`/healthz`, `/readyz`, `/metrics`, `/token`), which keep their paths.
"""

from __future__ import annotations

from datetime import timedelta
from importlib.resources import files
from typing import Any

from starlette.applications import Starlette
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from moorage.auth.login_passwords import SignedCredentials
from moorage.governance.services import Governance
from moorage.lifecycle.service import LifecycleService
from moorage.registry.blobs import BlobService
from moorage.registry.manifests import ManifestService
from moorage.scanning.results import ScanResults
from moorage.web.context import WebServices
from moorage.web.headers import SecurityHeaders
from moorage.web.pages import WebUI
from moorage.web.render import environment
from moorage.web.sessions import WEB_AUDIENCE
from moorage.web.views import audit, credentials, history, images, repositories, session_views, settings, usage

STATIC_MAX_AGE = 3600
"""Static files change only with a release; an hour of caching keeps pages fast without stale bugs for long."""


class CachedStatic:
    """Static files with a `Cache-Control` header (Starlette's StaticFiles sends ETag/Last-Modified only)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def cached(message: Any) -> None:
            if message["type"] == "http.response.start" and message.get("status") in (200, 304):
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"cache-control", f"public, max-age={STATIC_MAX_AGE}".encode()),
                ]
            await send(message)

        await self.app(scope, receive, cached)


def web_services(
    governance: Governance,
    lifecycle: LifecycleService,
    manifests: ManifestService,
    blobs: BlobService,
    auth: Any,
    session_hours: float,
    external_url: str | None,
    scan_results: ScanResults | None = None,
) -> WebServices:
    """The UI's services; sessions are signed credentials of their own audience (`sessions.py`)."""
    sessions = None
    if auth is not None:
        sessions = SignedCredentials(
            auth.keys,
            auth.settings.token_issuer,
            WEB_AUDIENCE,
            timedelta(hours=session_hours),
            auth.login_passwords.status,
        )
    return WebServices(governance, lifecycle, manifests, blobs, auth, sessions, external_url, scan_results)


def _routes(ui: WebUI) -> list[BaseRoute]:
    def get(path: str, view: Any, public: bool = False) -> Route:
        return Route(path, ui.route(view, public=public), methods=["GET"])

    def post(path: str, view: Any, public: bool = False) -> Route:
        return Route(path, ui.route(view, public=public, method="POST"), methods=["POST"])

    async def home(request: Any) -> Response:
        return RedirectResponse("/repositories", status_code=303)

    repository = "/repositories/{name:path}"
    static = CachedStatic(StaticFiles(directory=str(files("moorage.web") / "static")))
    return [
        Route("/", home, methods=["GET"]),
        Mount("/static", app=static, name="static"),
        get("/login", session_views.sign_in_form, public=True),
        post("/login", session_views.sign_in, public=True),
        post("/logout", session_views.sign_out, public=True),
        get("/repositories", repositories.repository_list),
        get(repository + "/-/images/{digest}", images.image_page),
        get(repository + "/-/tags/{tag}/history", history.tag_history),
        get(repository + "/-/settings", settings.settings_page),
        post(repository + "/-/settings", settings.save_settings),
        post(repository + "/-/lifecycle/preview", settings.preview_policy),
        post(repository + "/-/lifecycle/save", settings.save_policy),
        get(repository, repositories.repository_page),
        get("/usage", usage.usage_page),
        get("/audit", audit.audit_page),
        get("/tokens", credentials.tokens_page),
        post("/tokens", credentials.create_token),
        post("/tokens/revoke", credentials.revoke_token),
        get("/namespaces/{namespace}/robots", credentials.robots_page),
        post("/namespaces/{namespace}/robots", credentials.create_robot),
        post("/namespaces/{namespace}/robots/delete", credentials.delete_robot),
    ]


def create_web_app(services: WebServices) -> ASGIApp:
    """The UI as an ASGI app, every response carrying the security headers (`headers.py`)."""
    ui = WebUI(services, environment)

    async def not_found(request: Any, exc: Exception) -> Response:
        from moorage.web.pages import not_found as missing

        return ui.error_page(request, missing())

    app = Starlette(routes=_routes(ui), exception_handlers={404: not_found})
    return SecurityHeaders(app)
