"""/api/v1/creation-templates: settings for repositories created under a prefix (ECR's templates)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from moorage.api.manage.governance import governance, problems
from moorage.api.manage.schemas import TemplateIn, TemplateOut
from moorage.api.manage.security import authenticated, current_actor
from moorage.domain.access import Actor
from moorage.governance.services import Governance
from moorage.governance.settings import CreationTemplate, to_document
from moorage.governance.templates import TemplateRow

router = APIRouter(tags=["creation templates"])


def template_out(template: CreationTemplate, row: TemplateRow) -> TemplateOut:
    from moorage.governance.audit import utc

    return TemplateOut(
        prefix=template.prefix,
        create_on_push=template.create_on_push,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        **to_document(template.settings),
    )


@router.get("/creation-templates", summary="Every creation template", dependencies=[Depends(authenticated)])
def list_templates(services: Annotated[Governance, Depends(governance)]) -> list[TemplateOut]:
    return [template_out(template, row) for template, row in services.templates.list()]


@router.get("/creation-templates/{prefix:path}", summary="One creation template", dependencies=[Depends(authenticated)])
def get_template(prefix: str, services: Annotated[Governance, Depends(governance)]) -> TemplateOut:
    with problems():
        return template_out(*services.templates.get(prefix))


@router.put(
    "/creation-templates/{prefix:path}",
    summary="Create or replace the template for a prefix (`ROOT`: every repository without a more specific one)",
)
def put_template(
    prefix: str,
    body: TemplateIn,
    actor: Annotated[Actor, Depends(current_actor)],
    services: Annotated[Governance, Depends(governance)],
) -> TemplateOut:
    settings = body.changes()
    create_on_push = bool(settings.pop("create_on_push", False))
    with problems():
        services.templates.put(actor, prefix, create_on_push, settings)
        return template_out(*services.templates.get(prefix))


@router.delete("/creation-templates/{prefix:path}", status_code=204, summary="Delete a creation template")
def delete_template(
    prefix: str,
    actor: Annotated[Actor, Depends(current_actor)],
    services: Annotated[Governance, Depends(governance)],
) -> Response:
    with problems():
        services.templates.delete(actor, prefix)
    return Response(status_code=204)
