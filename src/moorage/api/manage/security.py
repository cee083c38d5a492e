"""Who is calling the management API, and what they may manage.

Callers authenticate with HTTP Basic and the same credentials `docker login` accepts (password,
access token, robot secret, login password, federated token), counted against the same login
rate limits; `Authorization: Bearer` takes those that name their user (access token, login
password, OIDC credential or ID token: `auth/bearer.py`). Without authentication configured
(loopback development) every caller is anonymous and may do everything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBearer

from moorage.api.auth_http import basic_credentials, bearer_token, client_address
from moorage.api.manage.problems import Problem
from moorage.auth.authenticator import InvalidCredentials
from moorage.auth.bearer import bearer_username
from moorage.auth.credentials import CredentialRefused
from moorage.auth.grants import Principal, allowed_actions
from moorage.auth.oidc_tokens import peek
from moorage.auth.ratelimit import TooManyAttempts
from moorage.auth.roles import USER_KINDS, FixedRoles
from moorage.domain.access import ANONYMOUS, Action, Actor


class AuthProblem(Problem):
    """A problem with extra response headers (the Basic challenge, Retry-After)."""

    def __init__(self, status: int, title: str, detail: str | None, headers: dict[str, str]) -> None:
        super().__init__(status, title, detail)
        self.headers = headers

    def response(self, instance: str | None = None) -> JSONResponse:
        response = super().response(instance)
        response.headers.update(self.headers)
        return response


_CHALLENGE = {"WWW-Authenticate": 'Basic realm="moorage"'}


@dataclass(frozen=True)
class Caller:
    """The authenticated principal and the checks the management endpoints make on it."""

    principal: Principal
    auth: Any  # AuthComponents, or None when authentication is off

    @property
    def actor(self) -> Actor:
        return self.principal.actor

    @property
    def user(self) -> str | None:
        """The user this caller acts as (password, login password or access token), if any."""
        return self.actor.name if self.actor.kind in USER_KINDS else None

    def _allows(self, pattern: str, action: Action) -> bool:
        if self.auth is None:
            return True
        return action in allowed_actions(self.principal, pattern, FixedRoles(self.auth.roles))

    def is_server_admin(self) -> bool:
        """A registry admin with full rights: the password, or a token with `admin` on `*` (not a narrower one)."""
        return self.auth is None or (self.principal.manages_account() and self._allows("*", Action.ADMIN))

    def require_server_admin(self) -> None:
        if not self.is_server_admin():
            raise Problem(403, "Forbidden", "only a registry administrator may do this")

    def require_admin_of(self, pattern: str) -> None:
        """Admin of a namespace (`ns/*`) or repository (`ns/app`); `*` needs a registry admin."""
        if not self._allows(pattern, Action.ADMIN):
            raise Problem(403, "Forbidden", f"{self.actor.describe()} is not an administrator of {pattern}")

    def may(self, pattern: str, action: Action) -> bool:
        return self._allows(pattern, action)

    def require(self, pattern: str, action: Action) -> None:
        """The caller may perform `action` on the repository (or `ns/*` namespace) `pattern`."""
        if not self._allows(pattern, action):
            raise Problem(403, "Forbidden", f"{self.actor.describe()} may not {action.value} {pattern}")

    def require_self_or_admin(self, user: str) -> None:
        if self.user != user and not self.is_server_admin():
            raise Problem(403, "Forbidden", f"only {user} or a registry administrator may do this")

    def manages_account_of(self, user: str) -> bool:
        """The caller is `user` with a credential that may manage the account (see `Principal.manages_account`)."""
        return self.auth is None or (self.user == user and self.principal.manages_account())

    def require_account_manager(self, user: str) -> None:
        """Managing an account's credentials: its password, an `admin`-on-`*` token, or a registry admin."""
        if not self.manages_account_of(user) and not self.is_server_admin():
            if self.user == user:
                raise Problem(
                    403,
                    "Forbidden",
                    f"{self.actor.describe()} is scoped: managing {user}'s account needs the password "
                    "or a token with the admin scope on *",
                )
            raise Problem(403, "Forbidden", f"only {user} or a registry administrator may do this")

    def require_password_login_as(self, user: str) -> None:
        """Creating credentials needs the account itself, not a credential derived from it."""
        if self.auth is not None and (self.actor.kind != "user" or self.actor.name != user):
            raise Problem(403, "Forbidden", f"log in as {user} with a password or login password to do this")


class _DocumentedBasic(HTTPBasic):
    """Declares HTTP Basic in the OpenAPI document; `current_caller` reads the header itself."""

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        return None


class _DocumentedBearer(HTTPBearer):
    """Declares Bearer in the OpenAPI document; `current_caller` reads the header itself."""

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        return None


BASIC = _DocumentedBasic(
    scheme_name="basic",
    realm="moorage",
    description="A user name and a password, access token, robot secret (`NAMESPACE+NAME`), login password "
    "or OIDC credential: whatever `docker login` accepts.",
    auto_error=False,
)
BEARER = _DocumentedBearer(
    scheme_name="bearer",
    bearerFormat="moorage credential",
    description="An access token (`moorage_pat_…`), login password, exchanged OIDC credential or trusted ID token "
    "(not a password, not a robot secret: those need Basic).",
    auto_error=False,
)


async def _credentials(request: Request, database: Any) -> tuple[str, str] | None:
    """(username, secret) from Basic, or from Bearer with the username the credential names."""
    authorization = request.headers.get("authorization")
    basic = basic_credentials(authorization)
    if basic is not None:
        return basic
    token = bearer_token(authorization)
    if token is None:
        return None
    username = await anyio.to_thread.run_sync(bearer_username, database, token)
    if username is None:
        raise AuthProblem(
            401, "Invalid credentials", "this bearer credential names no user: send it with HTTP Basic", _CHALLENGE
        )
    return username, token


async def current_caller(
    request: Request, _basic: Annotated[None, Security(BASIC)], _bearer: Annotated[None, Security(BEARER)]
) -> Caller:
    auth = getattr(request.app.state, "auth", None)
    if auth is None:
        return Caller(Principal(ANONYMOUS, None), None)
    credentials = await _credentials(request, auth.access_tokens.database)
    if credentials is None:
        raise AuthProblem(401, "Authentication required", "send HTTP Basic (or Bearer) credentials", _CHALLENGE)
    username, secret = credentials
    address = client_address(request.scope)
    try:
        principal = await anyio.to_thread.run_sync(lambda: auth.authenticator.authenticate(username, secret, address))
    except TooManyAttempts as error:
        raise AuthProblem(429, "Too many requests", str(error), {"Retry-After": str(error.retry_after)}) from None
    except CredentialRefused as error:  # expired or revoked: say which, not "invalid"
        raise AuthProblem(401, error.title, str(error), _CHALLENGE) from None
    except InvalidCredentials as error:
        raise AuthProblem(401, "Invalid credentials", str(error), _CHALLENGE) from None
    request.scope["moorage.actor"] = principal.actor
    if principal.expires_at is None:
        principal = replace(principal, expires_at=_jwt_expiry(secret))
    return Caller(principal, auth)


def _jwt_expiry(secret: str) -> datetime | None:
    """A signed credential (login password, ID token) already verified expires at its `exp` claim."""
    parts = peek(secret)
    expires = parts[1].get("exp") if parts is not None else None
    return datetime.fromtimestamp(expires, UTC) if isinstance(expires, int | float) else None


CallerDep = Annotated[Caller, Depends(current_caller)]


async def current_actor(request: Request, caller: CallerDep) -> Actor:
    """The acting identity (for audit and tag history), with its address; authenticates like `current_caller`."""
    actor = caller.actor
    if actor.source_address is None and request.client is not None:
        actor = replace(actor, source_address=request.client.host)
    return actor


def on_repository(action: Action) -> Callable[..., Awaitable[None]]:
    """A route dependency: the caller may perform `action` on the repository in the `name` path parameter."""

    async def check(name: str, caller: CallerDep) -> None:
        caller.require(name, action)

    return check


def on_namespace(action: Action) -> Callable[..., Awaitable[None]]:
    """A route dependency: the caller may perform `action` on every repository of the namespace `name`."""

    async def check(name: str, caller: CallerDep) -> None:
        caller.require(f"{name}/*", action)

    return check


async def authenticated(caller: CallerDep) -> None:
    """A route dependency: any caller with valid credentials (anyone, without authentication)."""


async def registry_admin(caller: CallerDep) -> None:
    """A route dependency: a registry administrator (anyone, without authentication)."""
    caller.require_server_admin()
