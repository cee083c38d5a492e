"""The token server of the Docker registry token protocol, and the public keys (JWKS).

`GET /token?service=&scope=…` with optional HTTP Basic credentials (no credentials: anonymous,
which may pull public repositories), and the OAuth2 form `POST /token` with the `password` and
`refresh_token` grants. `offline_token=true` (GET) or `access_type=offline` (POST) also returns a
refresh token, which `docker login` stores instead of the password.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qs

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from moorage.api.auth_http import basic_credentials, client_address, login_error
from moorage.api.errors import error_response
from moorage.auth.authenticator import InvalidCredentials
from moorage.auth.credentials import CredentialRefused
from moorage.auth.grants import Principal
from moorage.auth.ratelimit import TooManyAttempts
from moorage.auth.scopes import InvalidScope, parse_scopes
from moorage.auth.token_service import TokenServer
from moorage.domain.errors import ErrorCode, RegistryError

_MAX_FORM = 64 * 1024
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def token_routes(server: TokenServer, service: str) -> list[Route]:
    async def get_token(request: Request) -> Response:
        try:
            scopes = parse_scopes(request.query_params.getlist("scope"))
            _check_service(request.query_params.get("service"), service)
            address = client_address(request.scope)
            authorization = request.headers.get("authorization")
            credentials = basic_credentials(authorization)
            if credentials is None and authorization:
                raise RegistryError(ErrorCode.UNAUTHORIZED, "send HTTP Basic credentials, or none for anonymous access")
            if credentials is None:
                principal = server.anonymous(address)
            else:
                principal = await _login(server, *credentials, address)
            offline = request.query_params.get("offline_token", "").lower() == "true"
            body = await anyio.to_thread.run_sync(lambda: server.issue(principal, scopes, offline))
        except RegistryError as error:
            return error_response(error)
        except InvalidScope as error:
            return _oauth_error(400, "invalid_scope", str(error))
        return JSONResponse(body, headers=_NO_STORE)

    async def post_token(request: Request) -> Response:
        body = await request.body()
        if len(body) > _MAX_FORM:
            return _oauth_error(400, "invalid_request", "form too large")
        form = {key: values[-1] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
        address = client_address(request.scope)
        try:
            scopes = parse_scopes(form.get("scope", "").split(" "))
            _check_service(form.get("service"), service)
            grant_type = form.get("grant_type")
            refresh_token: str | None = None
            if grant_type == "password":
                username, password = form.get("username"), form.get("password")
                if not username or password is None:
                    return _oauth_error(400, "invalid_request", "username and password are required")
                principal = await _login(server, username, password, address)
            elif grant_type == "refresh_token":
                refresh_token = form.get("refresh_token")
                if not refresh_token:
                    return _oauth_error(400, "invalid_request", "refresh_token is required")
                principal = await _refresh(server, refresh_token, address)
            else:
                return _oauth_error(400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
            offline = form.get("access_type") == "offline"
            result = await anyio.to_thread.run_sync(lambda: server.issue(principal, scopes, offline, refresh_token))
        except RegistryError as error:
            return error_response(error)
        except InvalidScope as error:
            return _oauth_error(400, "invalid_scope", str(error))
        return JSONResponse(result, headers=_NO_STORE)

    async def jwks(request: Request) -> Response:
        keys = await anyio.to_thread.run_sync(server.tokens.keys.jwks)
        return JSONResponse(keys, headers={"Cache-Control": "max-age=60"})

    return [
        Route("/token", get_token, methods=["GET"]),
        Route("/token", post_token, methods=["POST"]),
        Route("/token/jwks.json", jwks, methods=["GET"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
    ]


async def _login(server: TokenServer, username: str, secret: str, address: str | None) -> Principal:
    return await _guarded(lambda: server.authenticator.authenticate(username, secret, address))


async def _refresh(server: TokenServer, token: str, address: str | None) -> Principal:
    return await _guarded(lambda: server.from_refresh_token(token, address))


async def _guarded(call: Callable[[], Principal]) -> Principal:
    try:
        return await anyio.to_thread.run_sync(call)
    except (InvalidCredentials, CredentialRefused, TooManyAttempts) as error:
        raise login_error(error) from None


def _check_service(requested: str | None, service: str) -> None:
    if requested and requested != service:
        raise RegistryError(ErrorCode.DENIED, f"this token server serves {service!r}, not {requested!r}", status=400)


def _oauth_error(status: int, code: str, description: str) -> Response:
    body = {
        "error": code,
        "error_description": description,
        "errors": [{"code": "UNSUPPORTED" if status == 400 else "UNAUTHORIZED", "message": description}],
    }
    return Response(json.dumps(body), status_code=status, media_type="application/json", headers=_NO_STORE)
