"""Describing images (like `aws ecr describe-images`), deleting them in batches, and tag history."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from moorage.domain.access import Action, Actor
from moorage.domain.digests import is_digest
from moorage.domain.errors import RegistryError
from moorage.domain.manifests import parse_manifest
from moorage.governance.audit import EVERYTHING, AuditLog, utc
from moorage.governance.errors import InvalidSettings, RepositoryNotFound
from moorage.governance.repositories import MAX_PAGE, checked_name
from moorage.metadata import history, images, repositories
from moorage.metadata.database import Database
from moorage.metadata.history import TagEvent as TagEvent
from moorage.registry.manifests import ManifestService

REFERENCED_BY_INDEX = "ImageReferencedByManifestList"
"""ECR's failure code for an image an index lists (the registry refuses with 409 DENIED naming the index)."""

MAX_BATCH = 100
"""ECR's limit of image ids per batch-delete-image call."""


@dataclass(frozen=True)
class Platform:
    os: str | None
    architecture: str | None
    variant: str | None
    digest: str


@dataclass(frozen=True)
class ImageDetail:
    digest: str
    tags: tuple[str, ...]
    media_type: str
    artifact_type: str | None
    size: int
    """Total compressed size: the manifest and every blob it references (for an index, its children's too)."""
    platforms: tuple[Platform, ...]
    pushed_at: datetime
    pushed_by: str | None
    last_pulled_at: datetime | None
    pull_count: int
    cursor: int
    parents: tuple[str, ...] = ()
    """The repository's indexes that list this image (it is one of their platforms, not a leftover)."""


@dataclass(frozen=True)
class DeleteOutcome:
    reference: str
    deleted: bool
    code: str | None = None
    message: str | None = None


@dataclass
class _Sizer:
    """Sizes of images of one repository, reading index children once per call."""

    connection: sa.Connection
    repository_id: int
    cache: dict[str, tuple[int, dict[str, int]]] = field(default_factory=dict)

    def blobs_of(self, media_type: str, payload: bytes) -> tuple[int, dict[str, int], list[dict[str, Any]]]:
        """Own payload size plus children's, the distinct blobs (digest → size), and the index's descriptors."""
        try:
            parsed = parse_manifest(payload, media_type)
        except RegistryError:
            return len(payload), {}, []
        blobs = {str(d.digest): d.size for d in parsed.blobs}
        manifest_bytes = len(payload)
        children = [str(d.digest) for d in parsed.children]
        for digest, (child_type, child_payload) in images.manifest_payloads(
            self.connection, self.repository_id, children
        ).items():
            if digest not in self.cache:
                child_bytes, child_blobs, _ = self.blobs_of(child_type, child_payload)
                self.cache[digest] = (child_bytes, child_blobs)
            child_bytes, child_blobs = self.cache[digest]
            manifest_bytes += child_bytes
            blobs.update(child_blobs)
        descriptors = json.loads(payload).get("manifests", []) if parsed.is_index else []
        return manifest_bytes, blobs, descriptors


def _failure_code(error: RegistryError) -> str:
    """ECR's failure code for a refusal it names, else the OCI code."""
    if isinstance(error.detail, dict) and error.detail.get("reason") == REFERENCED_BY_INDEX:
        return REFERENCED_BY_INDEX
    return error.code.wire_code


def _platforms(descriptors: list[dict[str, Any]]) -> tuple[Platform, ...]:
    found = []
    for descriptor in descriptors:
        platform = descriptor.get("platform") if isinstance(descriptor, dict) else None
        if isinstance(platform, dict):
            found.append(
                Platform(
                    platform.get("os"),
                    platform.get("architecture"),
                    platform.get("variant"),
                    str(descriptor.get("digest")),
                )
            )
    return tuple(found)


class ImageService:
    def __init__(self, database: Database, manifests: ManifestService, audit: AuditLog) -> None:
        self.database = database
        self.manifests = manifests
        self.audit = audit

    def _repository_id(self, connection: sa.Connection, name: str) -> int:
        repository_id = repositories.find_id(connection, checked_name(name))
        if repository_id is None:
            raise RepositoryNotFound(f"repository {name} does not exist")
        return repository_id

    def describe(
        self,
        repository: str,
        tagged: bool | None = None,
        newest_first: bool = False,
        after: int | None = None,
        limit: int = 100,
        digests: list[str] | None = None,
    ) -> tuple[list[ImageDetail], int | None]:
        """A page of the repository's images in push order (or newest first) and the next page's cursor.

        `tagged=False` lists untagged leftovers: an untagged image an index lists is part of that index,
        so it is not one (the full listing shows it with its `parents`).
        """
        limit = max(1, min(limit, MAX_PAGE))
        with self.database.read() as connection:
            repository_id = self._repository_id(connection, repository)
            rows = images.list_images(connection, repository_id, tagged, newest_first, after, limit + 1, digests)
            more = len(rows) > limit
            sizer = _Sizer(connection, repository_id)
            details = []
            for row in rows[:limit]:
                manifest_bytes, blobs, descriptors = sizer.blobs_of(row.media_type, row.payload)
                details.append(
                    ImageDetail(
                        digest=row.digest,
                        tags=row.tags,
                        media_type=row.media_type,
                        artifact_type=row.artifact_type,
                        size=manifest_bytes + sum(blobs.values()),
                        platforms=_platforms(descriptors),
                        pushed_at=utc(row.pushed_at),  # type: ignore[arg-type]
                        pushed_by=row.pushed_by,
                        last_pulled_at=utc(row.last_pulled_at),
                        pull_count=row.pull_count,
                        cursor=row.id,
                        parents=row.parents,
                    )
                )
        return details, details[-1].cursor if more and details else None

    def batch_delete(
        self, actor: Actor, repository: str, references: list[str], force_reason: str | None = None
    ) -> list[DeleteOutcome]:
        """Delete each tag or digest on its own (like ECR's batch-delete-image) and say what happened to each.

        Each item runs through the registry's own delete, so immutability, index parents, history and
        audit apply. A tag that was its image's last takes the image with it, as in ECR. With
        `force_reason`, a registry admin deletes images that carry immutable tags; the reason goes to
        the audit log (an image an index lists stays refused: the index would break).
        """
        if len(references) > MAX_BATCH:
            raise InvalidSettings(f"at most {MAX_BATCH} images per batch")
        self.audit.require(actor, checked_name(repository), Action.DELETE, "image.batch_delete")
        override = None
        if force_reason is not None:
            if not force_reason.strip():
                raise InvalidSettings("a forced delete needs a reason (it goes to the audit log)")
            self.audit.require(actor, EVERYTHING, Action.ADMIN, "image.force_delete")
            override = f"forced by {actor.describe()}: {force_reason.strip()}"
        with self.database.read() as connection:
            self._repository_id(connection, repository)
        outcomes = [self._delete_one(actor, repository, reference, override) for reference in references]
        # An index's children named before the index itself: try them again once the index is gone.
        for position, outcome in enumerate(outcomes):
            if outcome.code == REFERENCED_BY_INDEX and len(references) > 1:
                outcomes[position] = self._delete_one(actor, repository, outcome.reference, override)
        return outcomes

    def _delete_one(self, actor: Actor, repository: str, reference: str, override: str | None) -> DeleteOutcome:
        try:
            if is_digest(reference):
                self.manifests.delete(repository, reference, actor, override)
            else:
                self.manifests.delete_image_by_tag(repository, reference, actor, override)
        except RegistryError as error:
            return DeleteOutcome(reference, False, _failure_code(error), error.message)
        return DeleteOutcome(reference, True)

    def tag_history(
        self, repository: str, tag: str | None, until: datetime | None, after: int | None, limit: int
    ) -> list[TagEvent]:
        """Every create, move and delete of the tag (or of all tags), oldest first."""
        checked_name(repository)
        with self.database.read() as connection:
            return history.tag_events(connection, repository, tag, until, after, max(1, min(limit, MAX_PAGE)))

    def tag_at(self, repository: str, tag: str, moment: datetime) -> TagEvent | None:
        """The change that set what the tag pointed to at `moment` (its `new_digest`; None: it did not exist)."""
        checked_name(repository)
        with self.database.read() as connection:
            return history.last_tag_event(connection, repository, tag, moment)
