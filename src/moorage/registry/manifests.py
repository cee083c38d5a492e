"""Pushing, pulling and deleting manifests, and listing referrers."""

from __future__ import annotations

import json
from dataclasses import dataclass

from moorage.domain import media_types as mt
from moorage.domain.access import ANONYMOUS, Actor
from moorage.domain.digests import Digest, is_digest
from moorage.domain.errors import ErrorCode, RegistryError
from moorage.domain.manifests import Descriptor, ParsedManifest, parse_manifest, referrer_artifact_type
from moorage.domain.references import validate_tag
from moorage.metadata import blobs, collection, manifests, repositories, tags
from moorage.metadata.database import Database
from moorage.metadata.manifests import NewManifest, StoredManifest


@dataclass(frozen=True)
class PushedManifest:
    digest: Digest
    subject: Digest | None


class ManifestService:
    def __init__(self, database: Database) -> None:
        self.database = database

    def get(self, repository: str, reference: str) -> StoredManifest:
        """The stored manifest for a tag or digest, byte for byte, or MANIFEST_UNKNOWN."""
        with self.database.read() as connection:
            if is_digest(reference):
                found = manifests.by_digest(connection, repository, str(Digest.parse(reference)))
            else:
                found = manifests.by_tag(connection, repository, validate_tag(reference))
        if found is None:
            raise RegistryError(
                ErrorCode.MANIFEST_UNKNOWN, f"manifest {reference!r} is unknown", {"reference": reference}
            )
        return found

    def put(
        self, repository: str, reference: str, payload: bytes, content_type: str | None, actor: Actor = ANONYMOUS
    ) -> PushedManifest:
        """Verify and store a manifest; when `reference` is a tag, point the tag at it."""
        tag = None
        if is_digest(reference):
            expected = Digest.parse(reference)
            digest = Digest.of(payload, expected.algorithm)
            if digest != expected:
                raise RegistryError(
                    ErrorCode.DIGEST_INVALID, f"manifest digest is {digest}, not {expected}", {"digest": reference}
                )
        else:
            tag = validate_tag(reference)
            digest = Digest.of(payload)
        parsed = parse_manifest(payload, content_type)
        with self.database.write() as connection:
            repository_id = repositories.ensure(connection, repository)
            _check_references(connection, repository_id, parsed)
            manifests.record(connection, repository_id, _new_manifest(digest, parsed, payload))
            if tag is not None:
                tags.point(connection, repository_id, tag, str(digest))
        return PushedManifest(digest, parsed.subject.digest if parsed.subject else None)

    def delete(self, repository: str, reference: str, actor: Actor = ANONYMOUS) -> None:
        """Delete a manifest (with its tags) by digest, or only a tag by tag."""
        unknown = RegistryError(ErrorCode.MANIFEST_UNKNOWN, f"manifest {reference!r} is unknown")
        with self.database.write() as connection:
            repository_id = repositories.find_id(connection, repository)
            if repository_id is None:
                raise unknown
            if is_digest(reference):
                deleted = manifests.delete(connection, repository_id, str(Digest.parse(reference)))
            else:
                deleted = tags.delete(connection, repository_id, validate_tag(reference))
            if not deleted:
                raise unknown

    def referrers(self, repository: str, subject: Digest, artifact_type: str | None) -> bytes:
        """The OCI image index listing manifests whose subject is `subject`."""
        with self.database.read() as connection:
            found = manifests.referrers(connection, repository, str(subject), artifact_type)
        descriptors = []
        for referrer in found:
            descriptor: dict[str, object] = {
                "mediaType": referrer.media_type,
                "digest": referrer.digest,
                "size": referrer.size,
            }
            if referrer.artifact_type:
                descriptor["artifactType"] = referrer.artifact_type
            if referrer.annotations:
                descriptor["annotations"] = referrer.annotations
            descriptors.append(descriptor)
        index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": descriptors}
        return json.dumps(index, separators=(",", ":")).encode()


def _must_exist(descriptor: Descriptor) -> bool:
    """Foreign layers (with `urls`) live elsewhere; everything else must be in the repository."""
    return not descriptor.urls


def _check_references(connection: object, repository_id: int, parsed: ParsedManifest) -> None:
    import sqlalchemy as sa

    assert isinstance(connection, sa.Connection)
    wanted_blobs = sorted({str(d.digest) for d in parsed.blobs if _must_exist(d)})
    collection.lock_shared(connection, wanted_blobs)  # a GC sweep of these blobs waits for us (docs/gc.md)
    missing = set(wanted_blobs) - blobs.linked_digests(connection, repository_id, wanted_blobs)
    wanted_children = sorted({str(d.digest) for d in parsed.children})
    missing |= set(wanted_children) - manifests.existing_digests(connection, repository_id, wanted_children)
    if missing:
        first = sorted(missing)[0]
        raise RegistryError(
            ErrorCode.MANIFEST_BLOB_UNKNOWN,
            f"manifest references {len(missing)} unknown blob(s) or manifest(s), e.g. {first}",
            {"digest": first},
        )


def _new_manifest(digest: Digest, parsed: ParsedManifest, payload: bytes) -> NewManifest:
    return NewManifest(
        digest=str(digest),
        media_type=parsed.media_type,
        artifact_type=referrer_artifact_type(parsed),
        subject_digest=str(parsed.subject.digest) if parsed.subject else None,
        annotations=parsed.annotations,
        payload=payload,
        blob_digests=frozenset(str(d.digest) for d in parsed.blobs),
        child_digests=frozenset(str(d.digest) for d in parsed.children),
    )
