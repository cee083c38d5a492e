"""Turning `RegistryError`s into the distribution-spec's JSON error responses."""

from __future__ import annotations

import json

from starlette.responses import Response

from moorage.domain.errors import RegistryError

API_VERSION_HEADER = {"Docker-Distribution-API-Version": "registry/2.0"}


def error_response(error: RegistryError, method: str = "GET") -> Response:
    """The spec's `{"errors": [...]}` body with the code's status (no body for HEAD)."""
    body = b"" if method == "HEAD" else json.dumps(error.body()).encode()
    headers = {**API_VERSION_HEADER, **error.headers}
    return Response(body, status_code=error.status, media_type="application/json", headers=headers)
