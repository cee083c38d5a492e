"""RFC 9457 problem details: the management API's error format."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """A failure reported to a management API client as problem details."""

    def __init__(self, status: int, title: str, detail: str | None = None, **extensions: object) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.extensions = extensions

    def response(self, instance: str | None = None) -> JSONResponse:
        body: dict[str, object] = {"type": "about:blank", "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update(self.extensions)
        return JSONResponse(body, status_code=self.status, media_type=PROBLEM_JSON)


def install_problem_handlers(app: FastAPI) -> None:
    """Every error of the management API, including validation and unknown routes, as problem details."""

    async def on_problem(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, Problem)
        return error.response(request.url.path)

    async def on_http(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        return Problem(error.status_code, str(error.detail)).response(request.url.path)

    async def on_validation(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()]
        return Problem(422, "Invalid request", "the request does not match the API", errors=errors).response(
            request.url.path
        )

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; validation problems add `errors`, some add other members.",
    "type": "object",
    "properties": {
        "type": {"type": "string", "default": "about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "required": ["type", "title", "status"],
}

_AUTHENTICATED_ERRORS = {
    "401": "No credentials, or invalid or expired ones (with a `WWW-Authenticate: Basic` challenge)",
    "403": "The credential may not do this (its own scopes, or its owner's rights, do not allow it)",
    "429": "Too many failed logins (with `Retry-After`)",
}


def document_problems(app: FastAPI) -> None:
    """Describe every error response as what it is: `application/problem+json` with the Problem schema.

    Operations that authenticate (those with `security`) also list 401, 403 and 429; those with
    parameters or a body 422 (the request does not match the API); every one `4XX` for the rest.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            components["schemas"].pop(name, None)
        content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if operation.get("security"):
                    for status, description in _AUTHENTICATED_ERRORS.items():
                        responses.setdefault(status, {"description": description})
                if operation.get("parameters") or operation.get("requestBody"):
                    responses["422"] = {"description": "The request does not match the API"}
                responses.setdefault("4XX", {"description": "Another problem (not found, conflict, invalid input)"})
                for status, response in responses.items():
                    if status.startswith("4") or status.startswith("5"):
                        response["content"] = content
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
