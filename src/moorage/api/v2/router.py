"""The /v2/ API: one ASGI app that matches the spec's endpoints and maps errors to its format.

Repository names contain slashes, so routes are matched by their suffix (`/manifests/<ref>`,
`/blobs/<digest>`, ...) and the name is what comes before, checked against the spec's grammar.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from moorage.api.errors import API_VERSION_HEADER, error_response
from moorage.api.v2 import blobs, listings, manifests, referrers, uploads
from moorage.api.v2.context import RegistryServices
from moorage.domain.errors import ErrorCode, RegistryError
from moorage.domain.references import validate_name

log = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[Response]]

_ROUTES: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
    (
        re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/?$"),
        {"POST": uploads.start},
    ),
    (
        re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/(?P<upload_id>[^/]+)$"),
        {"GET": uploads.status, "PATCH": uploads.patch, "PUT": uploads.finish, "DELETE": uploads.cancel},
    ),
    (
        re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)$"),
        {"GET": blobs.get, "HEAD": blobs.head, "DELETE": blobs.delete},
    ),
    (
        re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)$"),
        {"GET": manifests.get, "HEAD": manifests.get, "PUT": manifests.put, "DELETE": manifests.delete},
    ),
    (re.compile(r"^/v2/(?P<name>.+)/tags/list$"), {"GET": listings.tags}),
    (re.compile(r"^/v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)$"), {"GET": referrers.get}),
]


class RegistryAPI:
    """ASGI app for everything under /v2/."""

    def __init__(self, services: RegistryServices) -> None:
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.dispatch(request)
        except ClientDisconnect:
            return  # nobody to answer; what was received stays staged for a resume
        await response(scope, receive, send)

    async def dispatch(self, request: Request) -> Response:
        method = request.method
        try:
            handler, params = self._match(_undecoded_path(request.scope), method)
            return await handler(request, self.services, **params)
        except RegistryError as error:
            return error_response(error, method)
        except ClientDisconnect:
            raise
        except Exception:
            log.exception("unexpected error on %s %s", method, request.url.path)
            return error_response(RegistryError(ErrorCode.UNKNOWN, "internal error; see the server log"), method)

    def _match(self, path: str, method: str) -> tuple[Handler, dict[str, Any]]:
        if path in ("/v2", "/v2/"):
            return _base, {}
        handlers, params = _route(path)
        handler = handlers.get(method)
        if handler is None:
            raise RegistryError(ErrorCode.UNSUPPORTED, f"{method} is not supported on {path}")
        return handler, params


def _route(path: str) -> tuple[dict[str, Handler], dict[str, Any]]:
    """The handlers of the endpoint the path names, and its parameters (the name checked)."""
    if path == "/v2/_catalog":
        return {"GET": listings.catalog}, {}
    for pattern, handlers in _ROUTES:
        match = pattern.match(path)
        if match:
            params = match.groupdict()
            validate_name(params["name"])
            return handlers, params
    raise RegistryError(ErrorCode.UNSUPPORTED, f"no such endpoint: {path}", status=404)


def _undecoded_path(scope: Scope) -> str:
    """The path as sent: a percent-encoded `/` or `.` must not turn into a name separator."""
    raw = scope.get("raw_path")
    if raw:
        return bytes(raw).split(b"?", 1)[0].decode("latin-1")
    return str(scope["path"])


async def _base(request: Request, services: RegistryServices) -> Response:
    if request.method not in ("GET", "HEAD"):
        raise RegistryError(ErrorCode.UNSUPPORTED, f"{request.method} is not supported on /v2/")
    body = b"" if request.method == "HEAD" else b"{}"
    return Response(body, media_type="application/json", headers=API_VERSION_HEADER)
