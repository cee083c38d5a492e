"""/api/v1/repositories/{name}/-/images: describe images and delete them in batches."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from moorage.api.manage.governance import REPOSITORY, governance, problems
from moorage.api.manage.problems import Problem
from moorage.api.manage.scans import scan_summaries
from moorage.api.manage.schemas import (
    BatchDelete,
    BatchDeleteResult,
    DeleteResult,
    ImageOut,
    ImagePage,
    PlatformOut,
    ScanSummaryOut,
)
from moorage.api.manage.security import current_actor, on_repository
from moorage.domain.access import Action, Actor
from moorage.domain.digests import Digest
from moorage.domain.errors import RegistryError
from moorage.governance.images import ImageDetail
from moorage.governance.services import Governance

router = APIRouter(tags=["images"])


def _is_valid_digest(value: str) -> bool:
    try:
        Digest.parse(value)
    except RegistryError:
        return False
    return True


def image_out(image: ImageDetail, scan: ScanSummaryOut | None = None) -> ImageOut:
    return ImageOut(
        digest=image.digest,
        tags=list(image.tags),
        media_type=image.media_type,
        artifact_type=image.artifact_type,
        size=image.size,
        platforms=[PlatformOut(**p.__dict__) for p in image.platforms],
        pushed_at=image.pushed_at,
        pushed_by=image.pushed_by,
        last_pulled_at=image.last_pulled_at,
        pull_count=image.pull_count,
        parents=list(image.parents),
        scan=scan,
    )


@router.get(
    REPOSITORY + "/-/images",
    summary="Describe the images of a repository (like `aws ecr describe-images`)",
    dependencies=[Depends(on_repository(Action.PULL))],
)
def describe_images(
    name: str,
    request: Request,
    services: Annotated[Governance, Depends(governance)],
    tag_status: Annotated[Literal["any", "tagged", "untagged"], Query()] = "any",
    sort: Annotated[Literal["pushed_at", "-pushed_at"], Query(description="`-pushed_at`: newest first.")] = "pushed_at",
    digest: Annotated[list[str] | None, Query(description="Only these digests.", max_length=100)] = None,
    after: Annotated[int | None, Query(ge=0, le=2**31 - 1, description="The `next` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ImagePage:
    invalid = [d for d in digest or [] if not _is_valid_digest(d)]
    if invalid:
        raise Problem(422, "Invalid request", f"not a digest: {invalid[0]!r}")
    tagged = None if tag_status == "any" else tag_status == "tagged"
    assert services.images is not None
    with problems():
        found, cursor = services.images.describe(name, tagged, sort == "-pushed_at", after, limit, digest)
    scans = scan_summaries(request, [image.digest for image in found])
    return ImagePage(images=[image_out(image, scans.get(image.digest)) for image in found], next=cursor)


@router.post(
    REPOSITORY + "/-/images/batch-delete",
    summary="Delete images by tag or digest (like `aws ecr batch-delete-image`), reporting each",
)
def batch_delete_images(
    name: str,
    body: BatchDelete,
    actor: Annotated[Actor, Depends(current_actor)],
    services: Annotated[Governance, Depends(governance)],
) -> BatchDeleteResult:
    references = []
    for image_id in body.image_ids:
        if (image_id.tag is None) == (image_id.digest is None):
            raise Problem(422, "Invalid request", "each image id names exactly one of tag or digest")
        references.append(image_id.tag if image_id.tag is not None else image_id.digest)
    if body.force and not body.reason:
        raise Problem(422, "Invalid request", "a forced delete needs a reason (it goes to the audit log)")
    if body.reason is not None and not body.force:
        raise Problem(422, "Invalid request", "a reason is only taken with force")
    assert services.images is not None
    with problems():
        outcomes = services.images.batch_delete(
            actor, name, [r for r in references if r is not None], body.reason if body.force else None
        )
    return BatchDeleteResult(results=[DeleteResult(**o.__dict__) for o in outcomes])
