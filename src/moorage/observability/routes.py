"""The route template a request matched, as a bounded metric label (`/v2/{name}/blobs/{digest}`).

A raw path would make one time series per repository, digest and upload: unbounded label
cardinality, which Prometheus punishes. The `/v2/` API has a fixed set of endpoints, told apart by
their path suffixes without a regular expression (this runs on every pull); elsewhere the
Starlette or FastAPI route that matched is in the ASGI scope after the app has run.
"""

from __future__ import annotations

from starlette.types import Scope

UNMATCHED = "unmatched"


def route_template(scope: Scope) -> str:
    path: str = scope.get("path", "")
    if path == "/v2" or path.startswith("/v2/"):
        return registry_route(path)
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(template, str):
        root = scope.get("root_path", "")
        return f"{root}{template}" if root and not template.startswith(root) else template
    return UNMATCHED


def registry_route(path: str) -> str:
    """The `/v2/` endpoint of a path (the OCI distribution spec's end-1 … end-13).

    Told apart by the last one or two segments only: a repository name may itself contain
    `blobs` or `manifests` components (`team/blobs/manifests/latest` is a manifest of `team/blobs`).
    """
    if path in ("/v2", "/v2/"):
        return "/v2/"
    if path == "/v2/_catalog":
        return "/v2/_catalog"
    head, _, last = path.rpartition("/")
    if not last:
        return "/v2/{name}/blobs/uploads/" if head.endswith("/blobs/uploads") else "/v2/" + UNMATCHED
    if last == "list" and head.endswith("/tags"):
        return "/v2/{name}/tags/list"
    if head.endswith("/blobs/uploads"):
        return "/v2/{name}/blobs/uploads/{reference}"
    if head.endswith("/blobs"):
        return "/v2/{name}/blobs/uploads/" if last == "uploads" else "/v2/{name}/blobs/{digest}"
    if head.endswith("/manifests"):
        return "/v2/{name}/manifests/{reference}"
    if head.endswith("/referrers"):
        return "/v2/{name}/referrers/{digest}"
    return "/v2/" + UNMATCHED
