"""What keeps an image from being deleted: the one rule every delete path checks in its transaction.

A platform image listed by an index of the same repository is part of that index: deleting it would
leave the index unpullable (`skopeo copy --all` fails on the missing child). Like ECR's
`ImageReferencedByManifestList`, such a delete is refused until the index itself is deleted. A tag
does not keep its image from a delete by digest unless it is immutable (the governance hook decides
that); a referrer (`subject`) does not keep its subject: the referrers API allows a dangling subject.
"""

from __future__ import annotations

import sqlalchemy as sa

from moorage.domain.errors import ErrorCode, RegistryError
from moorage.metadata import manifests

REFERENCED_STATUS = 409
"""The HTTP status of the refusal: the image exists, but its state (listed by an index) forbids the delete."""


def refuse_if_listed_by_an_index(connection: sa.Connection, repository_id: int, digest: str) -> None:
    """Raise DENIED (409) naming the index when an index of the repository lists `digest`.

    Call it with the repository locked (`repositories.lock`): an index PUT takes the same lock, so
    it cannot list the image between this check and the delete.
    """
    parents = manifests.index_parents(connection, repository_id, [digest]).get(digest)
    if parents:
        raise RegistryError(
            ErrorCode.DENIED,
            f"manifest {digest} is listed by the index {parents[0]} (ImageReferencedByManifestList); "
            "delete the index first",
            {"digest": digest, "reason": "ImageReferencedByManifestList", "indexes": parents},
            status=REFERENCED_STATUS,
        )
