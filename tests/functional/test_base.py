"""The API version check (spec "Determining Support", end-1) and the shape of errors."""

from __future__ import annotations

import httpx

from tests.functional.helpers import assert_error


def test_version_check_answers_200_with_distribution_api_version(http: httpx.Client) -> None:
    """GET /v2/ says the registry implements the API (spec end-1; "Legacy Docker support HTTP headers")."""
    response = http.get("/v2/")
    assert response.status_code == 200
    assert response.headers["docker-distribution-api-version"] == "registry/2.0"


def test_version_check_without_trailing_slash_is_not_a_server_error(http: httpx.Client) -> None:
    """Clients sometimes ask /v2 without the slash: a redirect or the same answer, never a failure."""
    response = http.get("/v2")
    assert response.status_code in (200, 301, 307, 308, 404)


def test_head_on_version_check_answers_200(http: httpx.Client) -> None:
    response = http.head("/v2/")
    assert response.status_code == 200
    assert response.content == b""


def test_unknown_manifest_error_is_spec_json(http: httpx.Client, repo: str) -> None:
    """An error body is `{"errors":[{"code","message","detail"?}]}` with a JSON content type (spec "Error Codes")."""
    response = http.get(f"/v2/{repo}/manifests/latest")
    assert_error(response, 404, {"MANIFEST_UNKNOWN", "NAME_UNKNOWN"})
    (error,) = response.json()["errors"]
    assert set(error) <= {"code", "message", "detail"}
