"""/api/v1/repositories: create, list, describe, update and delete repositories."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from moorage.api.manage.governance import REPOSITORY, TEXT, governance, problems
from moorage.api.manage.problems import Problem
from moorage.api.manage.schemas import RepositoryCreate, RepositoryOut, RepositoryPage, SettingsChange, TagRuleSetOut
from moorage.api.manage.security import CallerDep, current_actor, on_repository
from moorage.domain.access import Action, Actor
from moorage.governance.repositories import Repository
from moorage.governance.services import Governance
from moorage.governance.settings import to_document
from moorage.governance.tag_rules import RulesInForce

router = APIRouter(tags=["repositories"])

LABEL_FILTER = re.compile(r"^([^=]+)=(.*)$")


def repository_out(repository: Repository, in_force: list[RulesInForce] | None = None) -> RepositoryOut:
    """The settings, with the lifecycle policy in force (the repository's own or a namespace's) and its source.

    `in_force`: the tag naming rule sets that apply, shown when one repository is read or written.
    """
    settings = to_document(repository.settings)
    found = repository.lifecycle
    settings["lifecycle_policy"] = found.document if found is not None else None
    return RepositoryOut(
        tag_rules_in_force=None if in_force is None else [TagRuleSetOut.of(layer) for layer in in_force],
        name=repository.name,
        created_at=repository.created_at,
        created_by=repository.created_by,
        image_count=repository.image_count,
        tag_count=repository.tag_count,
        lifecycle_policy_source=found.source if found is not None else None,
        lifecycle_policy_namespace=found.namespace if found is not None else None,
        **settings,
    )


@router.post("/repositories", status_code=201, summary="Create a repository (like `aws ecr create-repository`)")
def create_repository(
    body: RepositoryCreate,
    actor: Annotated[Actor, Depends(current_actor)],
    services: Annotated[Governance, Depends(governance)],
) -> RepositoryOut:
    settings = body.changes()
    name = settings.pop("name")
    with problems():
        created = services.repositories.create(actor, name, settings)
        return repository_out(created, services.tag_rules.in_force(name))


@router.get("/repositories", summary="List the repositories the caller may read, a page at a time")
def list_repositories(
    caller: CallerDep,
    services: Annotated[Governance, Depends(governance)],
    prefix: Annotated[
        str | None, Query(max_length=255, pattern=TEXT, description="Only this namespace (`team-a`).")
    ] = None,
    visibility: Annotated[str | None, Query(pattern="^(private|public)$")] = None,
    label: Annotated[list[str] | None, Query(description="`key=value`; repeat to require several.")] = None,
    last: Annotated[
        str | None, Query(max_length=255, pattern=TEXT, description="The `next` of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> RepositoryPage:
    labels = {}
    for item in label or []:
        match = LABEL_FILTER.match(item)
        if match is None:
            raise Problem(422, "Invalid request", f"label filter {item!r} must be key=value")
        labels[match.group(1)] = match.group(2)
    with problems():
        found, after = services.repositories.list(prefix, visibility, labels, last, limit)
    # Like the catalog: a page may come out shorter than `limit` when it held unreadable repositories.
    readable = [r for r in found if caller.may(r.name, Action.PULL)]
    return RepositoryPage(repositories=[repository_out(r) for r in readable], next=after)


@router.get(REPOSITORY, summary="Describe a repository", dependencies=[Depends(on_repository(Action.PULL))])
def describe_repository(name: str, services: Annotated[Governance, Depends(governance)]) -> RepositoryOut:
    with problems():
        return repository_out(services.repositories.describe(name), services.tag_rules.in_force(name))


@router.patch(REPOSITORY, summary="Change some settings of a repository")
def update_repository(
    name: str,
    body: SettingsChange,
    actor: Annotated[Actor, Depends(current_actor)],
    services: Annotated[Governance, Depends(governance)],
) -> RepositoryOut:
    with problems():
        updated = services.repositories.update(actor, name, body.changes())
        return repository_out(updated, services.tag_rules.in_force(name))


@router.delete(REPOSITORY, status_code=204, summary="Delete a repository (refused while it holds images unless forced)")
def delete_repository(
    name: str,
    actor: Annotated[Actor, Depends(current_actor)],
    services: Annotated[Governance, Depends(governance)],
    force: bool = False,
) -> Response:
    with problems():
        services.repositories.delete(actor, name, force)
    return Response(status_code=204)
