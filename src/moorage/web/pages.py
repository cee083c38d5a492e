"""How a page is served: who is looking, CSRF on every form post, errors as pages, rendering.

Each view is a plain function run in a worker thread (services block on the database); this module
does the asynchronous parts around it: reading the form, resolving the viewer, checking the CSRF
token, and turning service refusals into error pages that leak nothing (a repository the viewer may
not read is "not found", whether it exists or not).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import anyio.to_thread
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from moorage.auth.credentials import CredentialRefused
from moorage.auth.grants import Principal
from moorage.domain.access import ANONYMOUS
from moorage.domain.errors import RegistryError
from moorage.governance.errors import GovernanceError, PermissionDenied, RepositoryNotFound
from moorage.lifecycle.policy import PolicyError
from moorage.web.context import Viewer, WebServices
from moorage.web.render import render
from moorage.web.sessions import (
    CSRF_FIELD,
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    clear_cookie,
    csrf_token,
    csrf_valid,
    is_https,
    new_presession,
    set_cookie,
)

if TYPE_CHECKING:
    from jinja2 import Environment

MAX_FORM_BYTES = 256 * 1024


def client_address(request: Request) -> str | None:
    return request.client.host if request.client is not None else None


class PageError(Exception):
    """A page that cannot be shown: its status and what to tell the viewer."""

    def __init__(self, status: int, title: str, message: str = "") -> None:
        super().__init__(message or title)
        self.status = status
        self.title = title
        self.message = message


def not_found(what: str = "This page") -> PageError:
    return PageError(404, "Not found", f"{what} does not exist, or you may not see it.")


@dataclass
class Page:
    """One request as a view sees it."""

    ui: WebUI
    request: Request
    viewer: Viewer
    form: dict[str, str] = field(default_factory=dict)
    form_lists: dict[str, list[str]] = field(default_factory=dict)
    presession: str | None = None
    """A new pre-session cookie to set (the first page a browser sees before signing in)."""

    @property
    def services(self) -> WebServices:
        return self.ui.services

    @property
    def address(self) -> str | None:
        return client_address(self.request)

    def param(self, name: str) -> str:
        """A path parameter; one with control characters names nothing that can exist."""
        value = str(self.request.path_params[name])
        if any(ord(c) < 32 for c in value):
            raise not_found()
        return value

    def query(self, name: str, default: str = "") -> str:
        """A query parameter as plain text: control characters (NUL, which PostgreSQL refuses) are a 422."""
        value = self.request.query_params.get(name, default).strip()
        if len(value) > 1024 or any(ord(c) < 32 for c in value):
            raise PageError(422, "Invalid request", f"{name} must be plain text of at most 1024 characters")
        return value

    def csrf_key(self) -> str | None:
        return self.viewer.session or self.presession or self.request.cookies.get(PRESESSION_COOKIE)

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        key = self.csrf_key()
        values.setdefault("title", "")
        common = {
            "viewer": self.viewer,
            "auth_on": self.services.auth is not None,
            "csrf_field": CSRF_FIELD,
            "csrf": csrf_token(key) if key else "",
            "path": self.request.url.path,
            "registry_host": self.ui.registry_host(self.request),
        }
        body = render(self.ui.templates, template, {**common, **values})
        response = HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
        if self.presession:
            set_cookie(response, PRESESSION_COOKIE, self.presession, self.ui.secure(self.request))
        return response

    def redirect(self, location: str) -> Response:
        return RedirectResponse(location, status_code=303)


View = Callable[[Page], Response]


class WebUI:
    """The pages and what they share: services, templates, and the session rules."""

    def __init__(self, services: WebServices, templates: Callable[[], Environment]) -> None:
        self.services = services
        self._make_templates = templates

    @functools.cached_property
    def templates(self) -> Environment:
        """Made for the first page served, once: a registry only pushed to and pulled from never loads jinja2."""
        return self._make_templates()

    def secure(self, request: Request) -> bool:
        return is_https(request, self.services.external_url)

    def registry_host(self, request: Request) -> str:
        """The host clients pull from (`podman pull HOST/repo:tag`): the external URL's, else the request's."""
        external = self.services.external_url
        if external:
            return external.split("://", 1)[-1].rstrip("/")
        return request.headers.get("host") or request.url.netloc

    def resolve_viewer(self, request: Request) -> tuple[Viewer | None, bool]:
        """The viewer, and whether a stale session cookie should be cleared; None: not signed in."""
        auth = self.services.auth
        if auth is None:
            return Viewer.anonymous_admin(), False
        token = request.cookies.get(SESSION_COOKIE)
        if not token or self.services.sessions is None:
            return None, False
        try:
            principal = self.services.sessions.principal(token, client_address(request))
        except CredentialRefused:
            return None, True
        if principal is None:
            return None, True
        return Viewer(principal, auth, token), False

    def route(
        self, view: View, *, public: bool = False, method: str = "GET"
    ) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint running `view`; `public`: shown without signing in (the sign-in page itself)."""

        async def endpoint(request: Request) -> Response:
            form: FormData | None = None
            if method == "POST":
                length = request.headers.get("content-length")
                if length is not None and length.isdigit() and int(length) > MAX_FORM_BYTES:
                    return self.error_page(request, PageError(413, "Form too large"))
                form = await request.form(max_files=0, max_fields=200, max_part_size=MAX_FORM_BYTES)
            return await anyio.to_thread.run_sync(self._serve, request, view, public, method, form)

        return endpoint

    def _serve(self, request: Request, view: View, public: bool, method: str, form: FormData | None) -> Response:
        viewer, stale = self.resolve_viewer(request)
        presession = None
        if viewer is None:
            if not public:
                if method != "GET":
                    return self.error_page(request, PageError(403, "Forbidden", "Sign in first."), stale=stale)
                target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="")
                response: Response = RedirectResponse(f"/login?next={target}", status_code=303)
                if stale:
                    clear_cookie(response, SESSION_COOKIE, self.secure(request))
                return response
            viewer = Viewer(Principal(ANONYMOUS, None), self.services.auth)
        if viewer.session is None and PRESESSION_COOKIE not in request.cookies:
            presession = new_presession()
        values: dict[str, str] = {}
        lists: dict[str, list[str]] = {}
        if form is not None:
            for key in form:
                items = [str(v) for v in form.getlist(key) if isinstance(v, str)]
                lists[key] = items
                values[key] = items[-1] if items else ""
        if any("\x00" in item for items in lists.values() for item in items):
            return self.error_page(request, PageError(422, "Invalid request", "Form fields must not contain NUL."))
        page = Page(self, request, viewer, values, lists, presession)
        if method == "POST" and not csrf_valid(page.csrf_key() if presession is None else None, values.get(CSRF_FIELD)):
            return self.error_page(
                request, PageError(403, "Forbidden", "The form's CSRF token is missing or wrong: reload the page.")
            )
        try:
            response = view(page)
        except PageError as error:
            return self.error_page(request, error, page)
        except PermissionDenied as error:
            return self.error_page(request, PageError(403, "Forbidden", str(error)), page)
        except RepositoryNotFound:
            return self.error_page(request, not_found("This repository"), page)
        except GovernanceError as error:
            return self.error_page(request, PageError(error.status, error.title, str(error)), page)
        except PolicyError as error:
            return self.error_page(request, PageError(422, "Invalid lifecycle policy", str(error)), page)
        except RegistryError as error:
            status = 404 if error.status == 404 else 400
            return self.error_page(request, PageError(status, error.code.wire_code, error.message), page)
        if stale:
            clear_cookie(response, SESSION_COOKIE, self.secure(request))
        return response

    def error_page(self, request: Request, error: PageError, page: Page | None = None, stale: bool = False) -> Response:
        if page is None:
            viewer = Viewer(Principal(ANONYMOUS, None), self.services.auth)
            page = Page(self, request, viewer)
        response = page.render("error.html", status=error.status, title=error.title, error=error)
        if stale:
            clear_cookie(response, SESSION_COOKIE, self.secure(request))
        return response
