"""The upload endpoints: POST (start, monolithic, mount), PATCH, PUT, GET status, DELETE."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from moorage.api.errors import API_VERSION_HEADER
from moorage.api.v2.context import RegistryServices, actor_of, blocking, readable_of
from moorage.domain.digests import Digest
from moorage.domain.errors import ErrorCode, RegistryError
from moorage.domain.references import validate_name
from moorage.registry.uploads import UploadStatus, content_range

_CONTENT_RANGE = re.compile(r"^(?:bytes[= ])?(\d+)-(\d+)(?:/(\d+|\*))?$")


def _upload_url(name: str, upload_id: str) -> str:
    return f"/v2/{name}/blobs/uploads/{upload_id}"


def _in_progress(name: str, status: UploadStatus, code: int = 202) -> Response:
    headers = {
        **API_VERSION_HEADER,
        "Location": _upload_url(name, status.upload_id),
        "Range": content_range(status.size),
        "Docker-Upload-UUID": status.upload_id,
        "Content-Length": "0",
    }
    return Response(b"", status_code=code, headers=headers)


def _created(name: str, digest: Digest) -> Response:
    headers = {
        **API_VERSION_HEADER,
        "Location": f"/v2/{name}/blobs/{digest}",
        "Docker-Content-Digest": str(digest),
        "Content-Length": "0",
    }
    return Response(b"", status_code=201, headers=headers)


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not value.isdigit():
        raise RegistryError(ErrorCode.BLOB_UPLOAD_INVALID, f"invalid Content-Length {value!r}")
    return int(value)


def _has_body(request: Request) -> bool:
    length = _content_length(request)
    return bool(length) or (length is None and "chunked" in request.headers.get("transfer-encoding", ""))


async def start(request: Request, services: RegistryServices, name: str) -> Response:
    """POST: mount a blob, upload one in a single request (`?digest=`), or open an upload session."""
    query = request.query_params
    mount = query.get("mount")
    if mount is not None:
        digest = Digest.parse(mount)
        source = query.get("from")
        if source is not None:
            validate_name(source)
        mounted = await blocking(services.uploads.mount, name, digest, source, actor_of(request), readable_of(request))
        if mounted:
            return _created(name, digest)
    status = await blocking(services.uploads.start, name, actor_of(request))
    if mount is None and "digest" in query:
        digest = Digest.parse(query["digest"])
        return await _write_and_finish(request, services, name, status, digest)
    return _in_progress(name, status)


def _chunk(request: Request) -> tuple[int | None, int | None]:
    """The chunk's first offset (from Content-Range, if sent) and its length (if known)."""
    header = request.headers.get("content-range")
    length = _content_length(request)
    if not header:
        return None, length
    match = _CONTENT_RANGE.match(header.strip())
    if not match or int(match.group(2)) < int(match.group(1)):
        raise RegistryError(ErrorCode.BLOB_UPLOAD_INVALID, f"malformed Content-Range {header!r}")
    start, end = int(match.group(1)), int(match.group(2))
    if length is not None and length != end - start + 1:
        raise RegistryError(
            ErrorCode.BLOB_UPLOAD_INVALID,
            f"Content-Range {header!r} covers {end - start + 1} bytes but Content-Length is {length}",
        )
    return start, end - start + 1


async def _append(request: Request, services: RegistryServices, name: str, upload_id: str) -> UploadStatus:
    start, length = _chunk(request)
    try:
        return await services.uploads.append(name, upload_id, request.stream(), start, length)
    except RegistryError as error:
        if error.code is ErrorCode.RANGE_INVALID:
            error.headers.setdefault("Location", _upload_url(name, upload_id))
            error.headers.setdefault("Docker-Upload-UUID", upload_id)
        raise


async def patch(request: Request, services: RegistryServices, name: str, upload_id: str) -> Response:
    """PATCH: append a chunk (with Content-Range) or stream the body to the upload."""
    return _in_progress(name, await _append(request, services, name, upload_id))


async def finish(request: Request, services: RegistryServices, name: str, upload_id: str) -> Response:
    """PUT ?digest=: append an optional last chunk, verify, and commit the blob."""
    if "digest" not in request.query_params:
        raise RegistryError(ErrorCode.DIGEST_INVALID, "the digest query parameter is required to finish an upload")
    digest = Digest.parse(request.query_params["digest"])
    await services.uploads.settled(upload_id)  # a chunk of this upload still landing in this process
    status = await blocking(services.uploads.status, name, upload_id)
    return await _write_and_finish(request, services, name, status, digest)


async def _write_and_finish(
    request: Request, services: RegistryServices, name: str, status: UploadStatus, digest: Digest
) -> Response:
    if _has_body(request):
        await _append(request, services, name, status.upload_id)
    await blocking(services.uploads.finish, name, status.upload_id, digest)
    return _created(name, digest)


async def status(request: Request, services: RegistryServices, name: str, upload_id: str) -> Response:
    """GET: where the upload stands, so a client can resume after an interruption."""
    await services.uploads.settled(upload_id)
    return _in_progress(name, await blocking(services.uploads.status, name, upload_id), code=204)


async def cancel(request: Request, services: RegistryServices, name: str, upload_id: str) -> Response:
    await services.uploads.settled(upload_id)  # a chunk of this upload still landing in this process
    await blocking(services.uploads.cancel, name, upload_id)
    return Response(b"", status_code=204, headers={**API_VERSION_HEADER})
