"""Role bindings: who holds which role (read, write, delete, admin) on which repositories.

A binding's pattern is a repository (`ns/app`), a namespace (`ns/*`) or everything (`*`); its
subject a user, a team (`org/team`) or `anonymous` (read only: a public repository or namespace).
Managing a binding needs the admin role on its pattern.

A robot (`robot` + `NAMESPACE+NAME`) holds no role bindings: its rights are its own grants, so a
binding for it sets (or removes) its grant on that pattern, which must stay inside its namespace,
and needs the admin role on its namespace too. Its grants are listed with the robot.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from moorage.api.manage.account_models import service_errors
from moorage.api.manage.problems import Problem
from moorage.api.manage.security import Caller, CallerDep
from moorage.auth.accounts import Binding
from moorage.auth.grants import Role
from moorage.auth.robots import SEPARATOR

router = APIRouter(tags=["grants"])

SubjectKind = Literal["user", "team", "anonymous", "robot"]


class GrantIn(BaseModel):
    subject_kind: SubjectKind
    subject: str = "*"
    repository_pattern: str
    role: Role


class GrantOut(BaseModel):
    subject_kind: str
    subject: str
    repository_pattern: str
    role: Role
    created_at: datetime

    @classmethod
    def of(cls, binding: Binding) -> GrantOut:
        return cls(
            subject_kind=binding.subject_kind,
            subject=binding.subject,
            repository_pattern=binding.pattern,
            role=binding.role,
            created_at=binding.created_at,
        )


def _auth(caller: Caller):  # type: ignore[no-untyped-def]
    if caller.auth is None:
        raise Problem(409, "Authentication is off", "enable authentication (auth_enabled) to manage grants")
    return caller.auth


def _accounts(caller: Caller):  # type: ignore[no-untyped-def]
    return _auth(caller).accounts


def _audit(request: Request, action: str, caller: Caller, pattern: str, detail: dict[str, Any]) -> None:
    """Permission changes go to the audit log (docs/governance.md), with who made them."""
    actor = caller.actor
    if actor.source_address is None and request.client is not None:
        actor = replace(actor, source_address=request.client.host)
    request.app.state.governance.audit.record(action, actor, target=pattern, detail=detail)


def _role_of(caller: Caller, subject_kind: str, subject: str, pattern: str) -> dict[str, str] | None:
    """The role a subject holds on a pattern now (the audit log's `before`), or None."""
    subject = "*" if subject_kind == "anonymous" else subject
    for binding in _accounts(caller).list_bindings(None):
        if (binding.subject_kind, binding.subject, binding.pattern) == (subject_kind, subject, pattern):
            return {"role": binding.role.value}
    return None


@router.get("/grants", summary="Role bindings, optionally of one namespace")
def list_grants(caller: CallerDep, namespace: str | None = None) -> list[GrantOut]:
    if namespace is None:
        caller.require_server_admin()
    else:
        caller.require_admin_of(f"{namespace}/*")
    return [GrantOut.of(b) for b in _accounts(caller).list_bindings(namespace)]


def _robot_namespace(caller: Caller, subject: str) -> str:
    """A robot subject's namespace, whose admin the caller must be."""
    namespace, separator, name = subject.partition(SEPARATOR)
    if not separator or not namespace or not name:
        raise Problem(400, "Invalid request", f"a robot subject is NAMESPACE{SEPARATOR}NAME, not {subject!r}")
    caller.require_admin_of(f"{namespace}/*")
    return namespace


@router.put("/grants", summary="Give a subject a role on a repository pattern (replaces its earlier role there)")
def put_grant(body: GrantIn, caller: CallerDep, request: Request) -> GrantOut:
    caller.require_admin_of(body.repository_pattern)
    if body.subject_kind == "robot":
        _robot_namespace(caller, body.subject)
        with service_errors():
            robot = _auth(caller).robots.change_grant(body.subject, body.repository_pattern, body.role.actions)
        binding = Binding("robot", robot.username, body.repository_pattern, body.role, robot.created_at)
        _audit(request, "permission.grant", caller, body.repository_pattern, body.model_dump(mode="json"))
        return GrantOut.of(binding)
    before = _role_of(caller, body.subject_kind, body.subject, body.repository_pattern)
    with service_errors():
        binding = _accounts(caller).bind(body.subject_kind, body.subject, body.repository_pattern, body.role)
    detail = {**body.model_dump(mode="json"), "before": before, "after": {"role": binding.role.value}}
    _audit(request, "permission.grant", caller, body.repository_pattern, {k: v for k, v in detail.items() if v})
    return GrantOut.of(binding)


@router.delete("/grants", status_code=204, summary="Remove a role binding")
def delete_grant(
    caller: CallerDep,
    request: Request,
    subject_kind: Annotated[SubjectKind, Query()],
    repository_pattern: Annotated[str, Query()],
    subject: Annotated[str, Query()] = "*",
) -> Response:
    caller.require_admin_of(repository_pattern)
    before = None if subject_kind == "robot" else _role_of(caller, subject_kind, subject, repository_pattern)
    with service_errors():
        if subject_kind == "robot":
            _robot_namespace(caller, subject)
            _auth(caller).robots.change_grant(subject, repository_pattern, None)
        else:
            _accounts(caller).unbind(subject_kind, subject, repository_pattern)
    detail: dict[str, Any] = {
        "subject_kind": str(subject_kind),
        "subject": subject,
        "repository_pattern": repository_pattern,
    }
    if before is not None:
        detail["before"] = before
    _audit(request, "permission.revoke", caller, repository_pattern, detail)
    return Response(status_code=204)
