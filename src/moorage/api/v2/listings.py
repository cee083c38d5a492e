"""GET /v2/<name>/tags/list and GET /v2/_catalog, with `n`/`last` pagination and `Link` headers."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from moorage.api.errors import API_VERSION_HEADER
from moorage.api.v2.context import RegistryServices, blocking
from moorage.domain.errors import ErrorCode, RegistryError
from moorage.registry.listings import Page


def _pagination(request: Request) -> tuple[int | None, str | None]:
    n = request.query_params.get("n")
    if n is not None and (not n.isdigit() or len(n) > 9):
        raise RegistryError(ErrorCode.UNSUPPORTED, f"invalid page size n={n!r}", status=400)
    return (int(n) if n is not None else None), request.query_params.get("last")


def _page_response(path: str, key: str, value: dict[str, object], page: Page, limit: int | None) -> Response:
    headers = dict(API_VERSION_HEADER)
    if page.next_last is not None and limit is not None:
        query = urlencode({"n": limit, "last": page.next_last})
        headers["Link"] = f'<{path}?{query}>; rel="next"'
    body = json.dumps({**value, key: page.items}).encode()
    return Response(body, media_type="application/json", headers=headers)


async def tags(request: Request, services: RegistryServices, name: str) -> Response:
    limit, last = _pagination(request)
    page = await blocking(services.listings.tags, name, limit, last)
    return _page_response(f"/v2/{name}/tags/list", "tags", {"name": name}, page, limit)


async def catalog(request: Request, services: RegistryServices) -> Response:
    limit, last = _pagination(request)
    visible = request.scope.get("moorage.repository_filter")  # set by the auth guard: readable repositories
    page = await blocking(services.listings.catalog, limit, last, visible)
    return _page_response("/v2/_catalog", "repositories", {}, page, limit)
