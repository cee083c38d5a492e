"""GET, HEAD, PUT and DELETE /v2/<name>/manifests/<reference>."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from moorage.api.errors import API_VERSION_HEADER
from moorage.api.v2.context import RegistryServices, actor_of, blocking, quick_read
from moorage.domain.digests import Digest, is_digest
from moorage.domain.errors import ErrorCode, RegistryError
from moorage.domain.manifests import MAX_MANIFEST_SIZE
from moorage.domain.references import validate_tag


async def get(request: Request, services: RegistryServices, name: str, reference: str) -> Response:
    """Serve the stored bytes as pushed, with their media type and digest (HEAD: headers only).

    Only one representation is stored, so it is served whatever the Accept header lists: every
    client that can parse the stored type asks for it, and converting manifests would change digests.
    """
    if not _is_reference(reference):
        # No manifest can be stored under it: unknown, as Distribution answers (only a PUT is refused).
        raise RegistryError(ErrorCode.MANIFEST_UNKNOWN, f"manifest {reference!r} is unknown", {"reference": reference})
    manifest = await quick_read(services, services.manifests.get, name, reference)
    headers = {
        **API_VERSION_HEADER,
        "Docker-Content-Digest": manifest.digest,
        "Content-Length": str(len(manifest.payload)),
        "ETag": f'"{manifest.digest}"',
    }
    body = b"" if request.method == "HEAD" else manifest.payload
    if request.method == "GET" and services.read_gate is not None:
        await services.read_gate.admit(request, name, manifest.digest, manifest.media_type, manifest.payload)
    if request.method == "GET" and services.pulls is not None:
        services.pulls.record(name, manifest.digest, actor_of(request))
    return Response(body, media_type=manifest.media_type, headers=headers)


async def put(request: Request, services: RegistryServices, name: str, reference: str) -> Response:
    payload = await _read_limited(request, MAX_MANIFEST_SIZE)
    pushed = await blocking(
        services.manifests.put, name, reference, payload, request.headers.get("content-type"), actor_of(request)
    )
    headers = {
        **API_VERSION_HEADER,
        "Location": f"/v2/{name}/manifests/{pushed.digest}",
        "Docker-Content-Digest": str(pushed.digest),
        "Content-Length": "0",
    }
    if pushed.subject is not None:
        headers["OCI-Subject"] = str(pushed.subject)
    return Response(b"", status_code=201, headers=headers)


async def delete(request: Request, services: RegistryServices, name: str, reference: str) -> Response:
    await blocking(services.manifests.delete, name, reference, actor_of(request))
    return Response(b"", status_code=202, headers={**API_VERSION_HEADER, "Content-Length": "0"})


def _is_reference(reference: str) -> bool:
    """Whether the reference is a valid digest or a valid tag."""
    try:
        if is_digest(reference):
            Digest.parse(reference)
        else:
            validate_tag(reference)
    except RegistryError:
        return False
    return True


async def _read_limited(request: Request, limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes without reading them all."""
    too_large = RegistryError(ErrorCode.MANIFEST_TOO_LARGE, f"manifest larger than {limit} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)
