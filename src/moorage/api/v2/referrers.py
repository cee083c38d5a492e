"""GET /v2/<name>/referrers/<digest>: the manifests that name `digest` as their subject."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from moorage.api.errors import API_VERSION_HEADER
from moorage.api.v2.context import RegistryServices, blocking
from moorage.domain import media_types as mt
from moorage.domain.digests import Digest


async def get(request: Request, services: RegistryServices, name: str, digest: str) -> Response:
    artifact_type = request.query_params.get("artifactType")
    body = await blocking(services.manifests.referrers, name, Digest.parse(digest), artifact_type)
    headers = dict(API_VERSION_HEADER)
    if artifact_type is not None:
        headers["OCI-Filters-Applied"] = "artifactType"
    return Response(body, media_type=mt.OCI_INDEX, headers=headers)
