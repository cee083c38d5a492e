"""Organisations (namespaces shared by a team of users) and their teams."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from moorage.api.manage.account_models import service_errors
from moorage.api.manage.audit_trail import record_change
from moorage.api.manage.problems import Problem
from moorage.api.manage.security import Caller, CallerDep
from moorage.auth.accounts import NamespaceInUse

router = APIRouter(tags=["organisations"])


class OrganizationIn(BaseModel):
    name: str


class OrganizationOut(BaseModel):
    name: str
    created_at: datetime


class TeamIn(BaseModel):
    name: str


class TeamOut(BaseModel):
    name: str
    members: list[str]


def _accounts(caller: Caller):  # type: ignore[no-untyped-def]
    if caller.auth is None:
        raise Problem(409, "Authentication is off", "enable authentication (auth_enabled) to manage accounts")
    return caller.auth.accounts


@router.get("/orgs", summary="List organisations")
def list_organizations(caller: CallerDep) -> list[OrganizationOut]:
    return [OrganizationOut(name=n, created_at=c) for n, c in _accounts(caller).list_organizations()]


def _audit(request: Request, action: str, caller: Caller, name: str) -> None:
    """Organisation changes go to the audit log; the entry also keeps a deleted name from being re-taken."""
    actor = caller.actor
    if actor.source_address is None and request.client is not None:
        actor = replace(actor, source_address=request.client.host)
    request.app.state.governance.audit.record(action, actor, target=f"{name}/*", detail={"organization": name})


def _require_creator(caller: Caller) -> None:
    """Registry admins always; users only when `organization_creation = "users"`, with full rights."""
    if caller.is_server_admin():
        return
    if caller.auth.settings.organization_creation != "users":
        raise Problem(403, "Forbidden", "only registry administrators create organisations on this registry")
    if caller.user is None or not caller.manages_account_of(caller.user):
        raise Problem(
            403,
            "Forbidden",
            f"{caller.actor.describe()} may not create organisations: sign in with a password "
            "or a token with the admin scope on *",
        )


@router.post(
    "/orgs",
    status_code=201,
    summary="Create an organisation; its creator becomes its admin (see the organization_creation setting)",
)
def create_organization(body: OrganizationIn, caller: CallerDep, request: Request) -> OrganizationOut:
    accounts = _accounts(caller)
    _require_creator(caller)
    with service_errors():
        try:
            accounts.create_organization(body.name, caller.user, take_used_namespace=caller.is_server_admin())
        except NamespaceInUse as error:
            raise Problem(403, "Namespace in use", str(error)) from None
    _audit(request, "organization.create", caller, body.name)
    created = next(c for n, c in accounts.list_organizations() if n == body.name)
    return OrganizationOut(name=body.name, created_at=created)


@router.delete("/orgs/{org}", status_code=204, summary="Delete an organisation, its grants and robots (its admins)")
def delete_organization(org: str, caller: CallerDep, request: Request) -> Response:
    caller.require_admin_of(f"{org}/*")
    with service_errors():
        _accounts(caller).delete_organization(org)
    _audit(request, "organization.delete", caller, org)
    return Response(status_code=204)


@router.get("/orgs/{org}/teams", summary="Teams of an organisation and their members")
def list_teams(org: str, caller: CallerDep) -> list[TeamOut]:
    with service_errors():
        return [TeamOut(name=n, members=m) for n, m in _accounts(caller).list_teams(org)]


def _members(caller: Caller, org: str, team: str) -> list[str]:
    return next((sorted(m) for n, m in _accounts(caller).list_teams(org) if n == team), [])


@router.post("/orgs/{org}/teams", status_code=201, summary="Create a team (organisation admins)")
def create_team(org: str, body: TeamIn, caller: CallerDep, request: Request) -> TeamOut:
    caller.require_admin_of(f"{org}/*")
    with service_errors():
        _accounts(caller).create_team(org, body.name)
    record_change(request, caller, "team.create", f"{org}/{body.name}", after={"members": []})
    return TeamOut(name=body.name, members=[])


@router.delete("/orgs/{org}/teams/{team}", status_code=204, summary="Delete a team (organisation admins)")
def delete_team(org: str, team: str, caller: CallerDep, request: Request) -> Response:
    caller.require_admin_of(f"{org}/*")
    with service_errors():
        before = _members(caller, org, team)
        _accounts(caller).delete_team(org, team)
    record_change(request, caller, "team.delete", f"{org}/{team}", before={"members": before})
    return Response(status_code=204)


@router.put("/orgs/{org}/teams/{team}/members/{user}", status_code=204, summary="Add a member")
def add_member(org: str, team: str, user: str, caller: CallerDep, request: Request) -> Response:
    caller.require_admin_of(f"{org}/*")
    with service_errors():
        before = _members(caller, org, team)
        _accounts(caller).set_membership(org, team, user, True)
    after = {"members": _members(caller, org, team)}
    record_change(request, caller, "team.add-member", f"{org}/{team}", {"members": before}, after, user=user)
    return Response(status_code=204)


@router.delete("/orgs/{org}/teams/{team}/members/{user}", status_code=204, summary="Remove a member")
def remove_member(org: str, team: str, user: str, caller: CallerDep, request: Request) -> Response:
    caller.require_admin_of(f"{org}/*")
    with service_errors():
        before = _members(caller, org, team)
        _accounts(caller).set_membership(org, team, user, False)
    after = {"members": _members(caller, org, team)}
    record_change(request, caller, "team.remove-member", f"{org}/{team}", {"members": before}, after, user=user)
    return Response(status_code=204)
