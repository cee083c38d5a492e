"""/api/v1/.../usage: storage used by a repository or a namespace, exact from the blob links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from moorage.api.manage.governance import REPOSITORY, governance, problems
from moorage.api.manage.schemas import UsageOut
from moorage.api.manage.security import on_namespace, on_repository
from moorage.domain.access import Action
from moorage.governance.services import Governance

router = APIRouter(tags=["usage"])


@router.get(
    REPOSITORY + "/-/usage", summary="Storage used by a repository", dependencies=[Depends(on_repository(Action.PULL))]
)
def repository_usage(name: str, services: Annotated[Governance, Depends(governance)]) -> UsageOut:
    with problems():
        return UsageOut.of(name, services.usage.repository(name))


@router.get(
    "/namespaces/{name:path}/usage",
    summary="Storage used by every repository of a namespace",
    dependencies=[Depends(on_namespace(Action.PULL))],
)
def namespace_usage(name: str, services: Annotated[Governance, Depends(governance)]) -> UsageOut:
    with problems():
        return UsageOut.of(name, services.usage.namespace(name))
