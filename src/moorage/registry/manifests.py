"""Pushing, pulling and deleting manifests, and listing referrers."""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa

from moorage.domain import media_types as mt
from moorage.domain.access import ANONYMOUS, Actor
from moorage.domain.digests import Digest, is_digest
from moorage.domain.errors import ErrorCode, RegistryError
from moorage.domain.manifests import Descriptor, ParsedManifest, parse_manifest, referrer_artifact_type
from moorage.domain.references import validate_tag
from moorage.metadata import blobs, collection, manifests, repositories, tags
from moorage.metadata.database import Database
from moorage.metadata.manifests import NewManifest, Referrer, StoredManifest
from moorage.registry.hooks import (
    Hooks,
    ManifestDeleted,
    ManifestPushed,
    TagChange,
    ensure_repository,
    reporting_refusals,
)
from moorage.registry.retention import refuse_if_listed_by_an_index


@dataclass(frozen=True)
class PushedManifest:
    digest: Digest
    subject: Digest | None


class ManifestService:
    def __init__(self, database: Database, hooks: Hooks = ()) -> None:
        self.database = database
        self.hooks = hooks

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
        self,
        repository: str,
        reference: str,
        payload: bytes,
        content_type: str | None,
        actor: Actor = ANONYMOUS,
        references_pending: bool = False,
    ) -> PushedManifest:
        """Verify and store a manifest; when `reference` is a tag, point the tag at it.

        `references_pending` is for the pull-through cache (proxy/), which records an upstream's
        manifest before it fetches what the manifest references (a platform of an index, a layer,
        only when a client asks): the references are recorded as declared instead of checked.
        """
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
        with reporting_refusals(self.hooks), self.database.write() as connection:
            repository_id = ensure_repository(connection, repository, actor, self.hooks)
            # Every manifest write takes the repository's lock first: one lock order for all of them
            # (a tag move reads-then-writes under it; without it, two pushes deadlock on PostgreSQL).
            repositories.lock(connection, repository_id)
            if references_pending:
                referenced = frozenset(str(d.digest) for d in parsed.blobs if _must_exist(d))
            else:
                referenced = _check_references(connection, repository_id, parsed)
            if tag is not None:
                old = tags.current(connection, repository_id, tag)
                change = TagChange(repository, repository_id, tag, old, str(digest), actor)
                self._tag_changing(connection, change)
            manifests.record(connection, repository_id, _new_manifest(digest, parsed, payload, referenced))
            if tag is not None:
                tags.point(connection, repository_id, tag, str(digest))
            pushed = ManifestPushed(repository, repository_id, str(digest), parsed.media_type, tag, actor)
            for hook in self.hooks:
                hook.manifest_pushed(connection, pushed)
        return PushedManifest(digest, parsed.subject.digest if parsed.subject else None)

    def delete(self, repository: str, reference: str, actor: Actor = ANONYMOUS, override: str | None = None) -> None:
        """Delete a manifest (with its tags) by digest, or only a tag by tag.

        A manifest an index of the repository lists is refused (409, naming the index); an immutable
        tag is refused by the governance hook unless `override` says why it may go (an admin's reason).
        """
        unknown = RegistryError(ErrorCode.MANIFEST_UNKNOWN, f"manifest {reference!r} is unknown")
        with reporting_refusals(self.hooks), self.database.write() as connection:
            repository_id = repositories.find_id(connection, repository)
            if repository_id is None:
                raise unknown
            repositories.lock(connection, repository_id)
            if is_digest(reference):
                digest = str(Digest.parse(reference))
                if manifests.by_digest(connection, repository, digest) is not None:
                    refuse_if_listed_by_an_index(connection, repository_id, digest)
                    self.announce_deletion(connection, repository, repository_id, digest, actor, override)
                deleted = manifests.delete(connection, repository_id, digest)
            else:
                tag = validate_tag(reference)
                old = tags.current(connection, repository_id, tag)
                if old is not None:
                    change = TagChange(repository, repository_id, tag, old, None, actor, override=override)
                    self._tag_changing(connection, change)
                deleted = tags.delete(connection, repository_id, tag)
            if not deleted:
                raise unknown

    def delete_image_by_tag(
        self, repository: str, reference: str, actor: Actor = ANONYMOUS, override: str | None = None
    ) -> bool:
        """Delete a tag and, when it was its image's last, the image too (like ECR's batch-delete-image).

        Returns whether the image went. In one transaction: if the untagged image is listed by an
        index, the whole delete is refused (ECR's `ImageReferencedByManifestList`) and the tag stays.
        """
        unknown = RegistryError(ErrorCode.MANIFEST_UNKNOWN, f"manifest {reference!r} is unknown")
        tag = validate_tag(reference)
        with reporting_refusals(self.hooks), self.database.write() as connection:
            repository_id = repositories.find_id(connection, repository)
            if repository_id is None:
                raise unknown
            repositories.lock(connection, repository_id)
            digest = tags.current(connection, repository_id, tag)
            if digest is None:
                raise unknown
            change = TagChange(repository, repository_id, tag, digest, None, actor, override=override)
            self._tag_changing(connection, change)
            tags.delete(connection, repository_id, tag)
            if tags.pointing_to(connection, repository_id, digest):
                return False
            refuse_if_listed_by_an_index(connection, repository_id, digest)
            self.announce_deletion(connection, repository, repository_id, digest, actor, override)
            manifests.delete(connection, repository_id, digest)
            return True

    def announce_deletion(
        self,
        connection: sa.Connection,
        repository: str,
        repository_id: int,
        digest: str,
        actor: Actor,
        override: str | None = None,
    ) -> None:
        """Tell the hooks, inside the deleting transaction, that a manifest and its tags are going.

        Every deletion of a manifest goes through here (a client's DELETE, a lifecycle expiry), so tag
        history and the audit log see them all; a hook may refuse by raising (an immutable tag does,
        unless `override` says why it may go).
        """
        for tag in tags.pointing_to(connection, repository_id, digest):
            change = TagChange(repository, repository_id, tag, digest, None, actor, True, override)
            self._tag_changing(connection, change)
        event = ManifestDeleted(repository, repository_id, digest, actor)
        for hook in self.hooks:
            hook.manifest_deleting(connection, event)

    def _tag_changing(self, connection: sa.Connection, change: TagChange) -> None:
        for hook in self.hooks:
            hook.tag_changing(connection, change)

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

    def referrer_tree(self, repository: str, subjects: list[str], depth: int) -> dict[str, list[Referrer]]:
        """Referrers of each subject and, down to `depth` levels, of those referrers: one query per level
        (the web UI shows them for a page of images). Keyed by subject digest; absent: none."""
        found: dict[str, list[Referrer]] = {}
        with self.database.read() as connection:
            repository_id = repositories.find_id(connection, repository)
            if repository_id is None:
                return found
            level = list(dict.fromkeys(subjects))
            for _ in range(max(depth, 0)):
                batch = manifests.referrers_of_subjects(connection, repository_id, level)
                found.update(batch)
                level = [r.digest for referrers in batch.values() for r in referrers if r.digest not in found]
                if not level:
                    break
        return found


def _must_exist(descriptor: Descriptor) -> bool:
    """Foreign layers (with `urls`) live elsewhere; everything else must be in the repository."""
    return not descriptor.urls


def _check_references(connection: sa.Connection, repository_id: int, parsed: ParsedManifest) -> frozenset[str]:
    """Check that every referenced blob and child manifest is in the repository, with the size the
    descriptor says; return the blobs the manifest references (and so keeps from GC).

    A foreign layer the repository does not link is not referenced: its digest may name another
    repository's blob, which must stay invisible from here (its size in usage, its GC pinning).
    """
    all_digests = sorted({str(d.digest) for d in parsed.blobs})
    wanted_blobs = [d for d in parsed.blobs if _must_exist(d)]
    collection.lock_shared(connection, all_digests)  # a GC sweep of these blobs waits for us (docs/gc.md)
    known = blobs.linked_sizes(connection, repository_id, all_digests)
    referenced = frozenset(known)
    known = {digest: known[digest] for digest in {str(d.digest) for d in wanted_blobs} & known.keys()}
    children = manifests.existing_sizes(connection, repository_id, sorted({str(d.digest) for d in parsed.children}))
    known.update(children)
    missing = sorted({str(d.digest) for d in (*wanted_blobs, *parsed.children)} - known.keys())
    if missing:
        raise RegistryError(
            ErrorCode.MANIFEST_BLOB_UNKNOWN,
            f"manifest references {len(missing)} unknown blob(s) or manifest(s), e.g. {missing[0]}",
            {"digest": missing[0]},
        )
    for descriptor in (*wanted_blobs, *parsed.children):
        size = known[str(descriptor.digest)]
        if descriptor.size != size:
            raise RegistryError(
                ErrorCode.MANIFEST_INVALID,
                f"descriptor of {descriptor.digest} says {descriptor.size} bytes but it has {size}",
                {"digest": str(descriptor.digest)},
            )
    return referenced


def _new_manifest(digest: Digest, parsed: ParsedManifest, payload: bytes, blob_digests: frozenset[str]) -> NewManifest:
    return NewManifest(
        digest=str(digest),
        media_type=parsed.media_type,
        artifact_type=referrer_artifact_type(parsed),
        subject_digest=str(parsed.subject.digest) if parsed.subject else None,
        annotations=parsed.annotations,
        payload=payload,
        blob_digests=blob_digests,
        child_digests=frozenset(str(d.digest) for d in parsed.children),
    )
