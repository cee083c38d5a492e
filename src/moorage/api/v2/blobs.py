"""GET, HEAD and DELETE /v2/<name>/blobs/<digest>."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from moorage.api.errors import API_VERSION_HEADER
from moorage.api.file_response import FileRangeResponse
from moorage.api.v2.context import RegistryServices, actor_of, blocking, quick_read
from moorage.domain import media_types as mt
from moorage.domain.digests import Digest
from moorage.registry.blobs import blob_unknown

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _headers(digest: Digest) -> dict[str, str]:
    return {
        **API_VERSION_HEADER,
        "Docker-Content-Digest": str(digest),
        "Accept-Ranges": "bytes",
        "Cache-Control": "max-age=31536000",
    }


async def head(request: Request, services: RegistryServices, name: str, digest: str) -> Response:
    parsed = Digest.parse(digest)
    size = await quick_read(services, services.blobs.size, name, parsed)
    if not services.blobs.is_protected(parsed):
        # The client may skip uploading it now: keep GC off it until the manifest arrives.
        size = await blocking(services.blobs.renew, name, parsed)
    headers = {**_headers(parsed), "Content-Length": str(size)}
    return Response(b"", media_type=mt.OCTET_STREAM, headers=headers)


async def get(request: Request, services: RegistryServices, name: str, digest: str) -> Response:
    parsed = Digest.parse(digest)
    info = await quick_read(services, services.blobs.stat, name, parsed)
    headers = _headers(parsed)
    if info.location.url is not None and services.redirects.allows(request):
        return RedirectResponse(info.location.url, status_code=307, headers=headers)
    try:
        requested = parse_range(request.headers.get("range"), info.size)
    except RangeNotSatisfiable:
        headers["Content-Range"] = f"bytes */{info.size}"
        return Response(b"", status_code=416, headers=headers)
    start, end = requested if requested is not None else (0, info.size)
    headers["Content-Length"] = str(end - start)
    status = 200
    if requested is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{info.size}"
        status = 206
    if info.location.path is not None:
        try:
            return FileRangeResponse(
                info.location.path, start, end, status_code=status, headers=headers, media_type=mt.OCTET_STREAM
            )
        except FileNotFoundError:  # deleted since the lookup
            raise blob_unknown(parsed) from None
    chunks = services.blobs.read(info, start, end)
    return StreamingResponse(chunks, status_code=status, media_type=mt.OCTET_STREAM, headers=headers)


async def delete(request: Request, services: RegistryServices, name: str, digest: str) -> Response:
    await blocking(services.blobs.delete, name, Digest.parse(digest), actor_of(request))
    return Response(b"", status_code=202, headers={**API_VERSION_HEADER, "Content-Length": "0"})


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """A single `bytes=` range as [start, end), or None to send the whole blob.

    Several ranges or a malformed header are ignored, as RFC 9110 allows.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":
        start, end = max(size - int(last), 0), size
    else:
        start = int(first)
        end = min(int(last) + 1, size) if last else size
        if last and int(last) < start:
            return None
    if start >= size or start >= end:
        raise RangeNotSatisfiable(header)
    return start, end


class RangeNotSatisfiable(Exception):
    """The range lies outside the blob: 416 with `Content-Range: bytes */<size>` (RFC 9110)."""
