"""Users, the caller's own identity, personal access tokens and login passwords."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from moorage.api.manage.account_models import GrantOut, ScopedCredentialRequest, service_errors
from moorage.api.manage.audit_trail import record_change
from moorage.api.manage.grants import router as grants_router
from moorage.api.manage.organizations import router as organizations_router
from moorage.api.manage.problems import Problem
from moorage.api.manage.robots import router as robots_router
from moorage.api.manage.security import Caller, CallerDep
from moorage.auth.access_tokens import AccessToken

router = APIRouter(tags=["accounts"])


class UserOut(BaseModel):
    name: str
    admin: bool
    disabled: bool
    created_at: datetime


class UserCreate(BaseModel):
    name: str
    password: str = Field(description="At least 8 characters.")
    admin: bool = False


class UserUpdate(BaseModel):
    password: str | None = None
    admin: bool | None = None
    disabled: bool | None = None


class Me(BaseModel):
    name: str
    kind: str
    credential: str | None
    admin: bool
    scopes: list[GrantOut] | None = Field(
        description="What this credential may do; null: the owner's full rights (a password)."
    )
    expires_at: datetime | None = Field(description="When this credential stops working; null: never.")


class TokenCreate(ScopedCredentialRequest):
    name: str = Field(min_length=1, max_length=100)


class TokenOut(BaseModel):
    id: str
    owner: str
    name: str
    grants: list[GrantOut]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, token: AccessToken) -> TokenOut:
        return cls(
            id=token.id,
            owner=token.owner,
            name=token.name,
            grants=[GrantOut.of(g) for g in token.grants],
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
            last_used_at=token.last_used_at,
        )


class TokenCreated(TokenOut):
    token: str = Field(description="The secret: shown this once, stored only as a hash.")


class LoginPasswordRequest(BaseModel):
    lifetime_hours: float | None = Field(
        None,
        gt=0,
        description="Default: the configured 12 hours. More than the registry's cap (login_password_max_hours, "
        "default 12) is refused with 400.",
    )


class LoginPassword(BaseModel):
    username: str
    password: str
    expires_at: datetime


def _auth(caller: Caller):  # type: ignore[no-untyped-def]
    if caller.auth is None:
        raise Problem(409, "Authentication is off", "enable authentication (auth_enabled) to manage accounts")
    return caller.auth


@router.get("/user", summary="Who the caller is")
def whoami(caller: CallerDep) -> Me:
    actor, grants = caller.actor, caller.principal.grants
    return Me(
        name=actor.name,
        kind=actor.kind,
        credential=actor.credential,
        admin=caller.is_server_admin(),
        scopes=None if grants is None else [GrantOut.of(g) for g in grants],
        expires_at=caller.principal.expires_at,
    )


@router.get("/users", summary="List users (registry admins)")
def list_users(caller: CallerDep) -> list[UserOut]:
    caller.require_server_admin()
    return [
        UserOut(name=u.name, admin=u.is_admin, disabled=u.disabled, created_at=u.created_at)
        for u in _auth(caller).accounts.list_users()
    ]


def _flags(user: Any) -> dict[str, bool]:
    """What the audit log records of an account: its permission-relevant flags (never the password)."""
    return {"admin": user.is_admin, "disabled": user.disabled}


@router.post("/users", status_code=201, summary="Create a user (registry admins)")
def create_user(body: UserCreate, caller: CallerDep, request: Request) -> UserOut:
    caller.require_server_admin()
    with service_errors():
        user = _auth(caller).accounts.create_user(body.name, body.password, body.admin)
    record_change(request, caller, "user.create", user.name, after=_flags(user))
    return UserOut(name=user.name, admin=user.is_admin, disabled=user.disabled, created_at=user.created_at)


@router.get("/users/{name}", summary="A user")
def get_user(name: str, caller: CallerDep) -> UserOut:
    caller.require_self_or_admin(name)
    with service_errors():
        user = _auth(caller).accounts.get_user(name)
    return UserOut(name=user.name, admin=user.is_admin, disabled=user.disabled, created_at=user.created_at)


@router.patch("/users/{name}", summary="Change a password (self), admin flag or disabled state (admins)")
def update_user(name: str, body: UserUpdate, caller: CallerDep, request: Request) -> UserOut:
    if body.admin is not None or body.disabled is not None:
        caller.require_server_admin()
    else:
        caller.require_self_or_admin(name)
        if not caller.is_server_admin():
            caller.require_password_login_as(name)
    with service_errors():
        before = _flags(_auth(caller).accounts.get_user(name))
        user = _auth(caller).accounts.update_user(name, body.password, body.admin, body.disabled)
    changed = {"password_changed": True} if body.password is not None else {}
    record_change(request, caller, "user.update", user.name, before=before, after=_flags(user), **changed)
    return UserOut(name=user.name, admin=user.is_admin, disabled=user.disabled, created_at=user.created_at)


@router.delete("/users/{name}", status_code=204, summary="Delete a user (registry admins)")
def delete_user(name: str, caller: CallerDep, request: Request) -> Response:
    caller.require_server_admin()
    with service_errors():
        before = _flags(_auth(caller).accounts.get_user(name))
        _auth(caller).accounts.delete_user(name)
    record_change(request, caller, "user.delete", name, before=before)
    return Response(status_code=204)


@router.post(
    "/users/{name}/revoke-sessions",
    status_code=204,
    summary="End a user's login passwords and refresh tokens (registry admins, or the user with a password)",
)
def revoke_sessions(name: str, caller: CallerDep, request: Request) -> Response:
    """Every login password and refresh token issued to the user so far stops working at once
    (also those made from the user's access tokens); access tokens themselves are not revoked."""
    if not caller.is_server_admin():
        caller.require_self_or_admin(name)
        caller.require_password_login_as(name)
    with service_errors():
        _auth(caller).accounts.revoke_sessions(name)
    record_change(request, caller, "user.revoke-sessions", name)
    return Response(status_code=204)


@router.get("/users/{name}/tokens", summary="A user's personal access tokens (never their secrets)")
def list_tokens(name: str, caller: CallerDep) -> list[TokenOut]:
    caller.require_account_manager(name)
    with service_errors():
        return [TokenOut.of(t) for t in _auth(caller).access_tokens.list(name)]


@router.post("/users/{name}/tokens", status_code=201, summary="Create a personal access token (shown once)")
def create_token(name: str, body: TokenCreate, caller: CallerDep, request: Request) -> TokenCreated:
    caller.require_password_login_as(name)
    tokens = _auth(caller).access_tokens
    with service_errors():
        token, secret = tokens.create(name, body.name, body.grants(), body.expires_at(tokens.cap))
    after = TokenOut.of(token).model_dump(mode="json", include={"name", "grants", "expires_at"})
    record_change(request, caller, "access_token.create", name, after=after, token_id=token.id)
    return TokenCreated(**TokenOut.of(token).model_dump(), token=secret)


@router.delete("/users/{name}/tokens/{token_id}", status_code=204, summary="Revoke a personal access token")
def revoke_token(name: str, token_id: str, caller: CallerDep, request: Request) -> Response:
    caller.require_account_manager(name)
    with service_errors():
        _auth(caller).access_tokens.revoke(name, token_id)
    record_change(request, caller, "access_token.revoke", name, token_id=token_id)
    return Response(status_code=204)


@router.post("/login-password", summary="A short-lived password for docker/podman login (like ECR's)")
def login_password(caller: CallerDep, body: LoginPasswordRequest | None = None) -> LoginPassword:
    auth = _auth(caller)
    lifetime = timedelta(hours=body.lifetime_hours) if body and body.lifetime_hours else None
    with service_errors():
        password, expires = auth.login_passwords.issue(caller.principal, lifetime)
    return LoginPassword(username=caller.actor.name, password=password, expires_at=expires)


ACCOUNT_ROUTERS = (router, organizations_router, robots_router, grants_router)
