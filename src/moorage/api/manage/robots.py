"""Robot accounts of a namespace: created and rotated by the namespace's admins, secrets shown once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from moorage.api.manage.account_models import GrantOut, ScopedCredentialRequest, ScopeName, service_errors
from moorage.api.manage.audit_trail import record_change
from moorage.api.manage.problems import Problem
from moorage.api.manage.security import Caller, CallerDep
from moorage.auth.grants import Grant, expand_actions, validate_pattern
from moorage.auth.robots import Robot
from moorage.domain.access import Action

router = APIRouter(tags=["robots"])


class RobotCreate(ScopedCredentialRequest):
    name: str
    description: str | None = Field(None, max_length=255)


class RobotOut(BaseModel):
    namespace: str
    name: str
    username: str = Field(description="What the robot logs in as: NAMESPACE+NAME.")
    description: str | None
    grants: list[GrantOut]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, robot: Robot) -> RobotOut:
        return cls(
            namespace=robot.namespace,
            name=robot.name,
            username=robot.username,
            description=robot.description,
            grants=[GrantOut.of(g) for g in robot.grants],
            created_at=robot.created_at,
            expires_at=robot.expires_at,
            last_used_at=robot.last_used_at,
        )


class RobotCreated(RobotOut):
    secret: str = Field(description="Shown this once, stored only as a hash.")


class RobotGrants(BaseModel):
    """What a robot may do, with the same meaning as at creation."""

    scopes: list[ScopeName] = Field(description="pull, push, delete, admin (push and delete imply pull).")
    repositories: list[str] = Field(
        ["*"], description="Patterns inside the namespace: NAME, NAMESPACE/*; `*` or none: the whole namespace."
    )

    def grants(self, namespace: str) -> tuple[Grant, ...]:
        if not self.scopes:
            raise ValueError("at least one scope is required")
        patterns = [p for p in self.repositories if p != "*"] or [f"{namespace}/*"]
        actions = expand_actions(Action(scope) for scope in self.scopes)
        return tuple(Grant(validate_pattern(pattern), actions) for pattern in patterns)


class RobotSecret(BaseModel):
    username: str
    secret: str


def _robots(caller: Caller, namespace: str):  # type: ignore[no-untyped-def]
    if caller.auth is None:
        raise Problem(409, "Authentication is off", "enable authentication (auth_enabled) to manage robots")
    caller.require_admin_of(f"{namespace}/*")
    return caller.auth.robots


@router.get("/namespaces/{namespace}/robots", summary="Robot accounts of a namespace")
def list_robots(namespace: str, caller: CallerDep) -> list[RobotOut]:
    return [RobotOut.of(r) for r in _robots(caller, namespace).list(namespace)]


def _described(robot: Robot) -> dict[str, Any]:
    """A robot as the audit log records it (never its secret)."""
    return RobotOut.of(robot).model_dump(mode="json", include={"description", "grants", "expires_at"})


@router.post("/namespaces/{namespace}/robots", status_code=201, summary="Create a robot account")
def create_robot(namespace: str, body: RobotCreate, caller: CallerDep, http: Request) -> RobotCreated:
    robots = _robots(caller, namespace)
    body_repositories = body.repositories if body.repositories != ["*"] else [f"{namespace}/*"]
    request = body.model_copy(update={"repositories": body_repositories})
    with service_errors():
        from moorage.auth.accounts import check_name

        check_name(body.name, "robot")
        robot, secret = robots.create(
            namespace, body.name, request.grants(), request.expires_at(robots.cap), body.description
        )
    record_change(http, caller, "robot.create", f"{namespace}/*", after=_described(robot), robot=robot.username)
    return RobotCreated(**RobotOut.of(robot).model_dump(), secret=secret)


@router.post("/namespaces/{namespace}/robots/{name}/secret", summary="Replace a robot's secret")
def rotate_robot_secret(namespace: str, name: str, caller: CallerDep, request: Request) -> RobotSecret:
    robots = _robots(caller, namespace)
    with service_errors():
        secret = robots.rotate_secret(namespace, name)
    record_change(request, caller, "robot.rotate-secret", f"{namespace}/*", robot=f"{namespace}+{name}")
    return RobotSecret(username=f"{namespace}+{name}", secret=secret)


@router.put(
    "/namespaces/{namespace}/robots/{name}/grants",
    summary="Replace what a robot may do (its secret stays; credentials made from it narrow at once)",
)
def set_robot_grants(namespace: str, name: str, body: RobotGrants, caller: CallerDep, request: Request) -> RobotOut:
    robots = _robots(caller, namespace)
    with service_errors():
        before = next((_described(r)["grants"] for r in robots.list(namespace) if r.name == name), None)
        robot = robots.set_grants(namespace, name, body.grants(namespace))
    after = _described(robot)["grants"]
    record_change(request, caller, "robot.grants", f"{namespace}/*", before, after, robot=robot.username)
    return RobotOut.of(robot)


@router.delete("/namespaces/{namespace}/robots/{name}", status_code=204, summary="Delete a robot account")
def delete_robot(namespace: str, name: str, caller: CallerDep, request: Request) -> Response:
    robots = _robots(caller, namespace)
    with service_errors():
        before = next((_described(r) for r in robots.list(namespace) if r.name == name), None)
        robots.delete(namespace, name)
    record_change(request, caller, "robot.delete", f"{namespace}/*", before=before, robot=f"{namespace}+{name}")
    return Response(status_code=204)
