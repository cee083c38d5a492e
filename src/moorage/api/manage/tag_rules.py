"""/api/v1/namespaces/{name}/tag-rules: the tag naming rules of every repository under a namespace.

A repository's own rules are its `tag_rules` setting (`PATCH /repositories/{name}`); its GET shows
every rule set in force with its source.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from moorage.api.manage.governance import governance, problems
from moorage.api.manage.schemas import NamespaceTagRulesOut, TagRulesIn
from moorage.api.manage.security import current_actor, on_namespace
from moorage.domain.access import Action, Actor
from moorage.governance.services import Governance
from moorage.governance.tag_naming import NamespaceTagRules

router = APIRouter(tags=["tag naming rules"])

PATH = "/namespaces/{name:path}/tag-rules"


def rules_out(found: NamespaceTagRules) -> NamespaceTagRulesOut:
    return NamespaceTagRulesOut(
        namespace=found.namespace,
        applies_to=f"{found.namespace}/*",
        updated_by=found.updated_by,
        updated_at=found.updated_at,
        **found.rules.to_document(),
    )


@router.get(PATH, summary="A namespace's tag naming rules", dependencies=[Depends(on_namespace(Action.PULL))])
def get_namespace_tag_rules(name: str, services: Annotated[Governance, Depends(governance)]) -> NamespaceTagRulesOut:
    with problems():
        return rules_out(services.tag_rules.get(name))


@router.put(
    PATH,
    summary="Set a namespace's tag naming rules (pushes of other tags are refused; existing tags stay)",
    dependencies=[Depends(on_namespace(Action.ADMIN))],
)
def put_namespace_tag_rules(
    name: str,
    body: TagRulesIn,
    actor: Annotated[Actor, Depends(current_actor)],
    services: Annotated[Governance, Depends(governance)],
) -> NamespaceTagRulesOut:
    with problems():
        return rules_out(services.tag_rules.put(actor, name, body.model_dump()))


@router.delete(
    PATH,
    status_code=204,
    summary="Remove a namespace's tag naming rules",
    dependencies=[Depends(on_namespace(Action.ADMIN))],
)
def delete_namespace_tag_rules(
    name: str,
    actor: Annotated[Actor, Depends(current_actor)],
    services: Annotated[Governance, Depends(governance)],
) -> Response:
    with problems():
        services.tag_rules.delete(actor, name)
    return Response(status_code=204)
