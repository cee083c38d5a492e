"""In-transaction hooks: how features (governance, events, quotas) wrap the registry's writes.

The core calls every hook inside the write transaction of the change it describes, after the change
is checked and before it commits. A hook may write its own rows on the same connection (history,
audit) so they commit with the change or not at all, and may refuse the change by raising
`RegistryError` (the transaction rolls back and the client gets that error). Hooks must be quick:
they run while the metadata store holds the write lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from moorage.domain.access import Actor
from moorage.domain.errors import ErrorCode, RegistryError
from moorage.metadata import repositories


@dataclass(frozen=True)
class RepositoryCreated:
    """A push (upload, mount or manifest) names a repository that does not exist yet."""

    name: str
    repository_id: int
    actor: Actor


@dataclass(frozen=True)
class TagChange:
    """A tag is created (`old_digest` None), moved, re-pushed unchanged, or deleted (`new_digest` None)."""

    repository: str
    repository_id: int
    tag: str
    old_digest: str | None
    new_digest: str | None
    actor: Actor
    with_manifest: bool = False
    """True when the tag goes because its manifest is deleted by digest (not a tag delete)."""
    override: str | None = None
    """Why an immutable tag may go anyway (a lifecycle expiry, an admin's forced delete and its reason)."""


@dataclass(frozen=True)
class ManifestPushed:
    repository: str
    repository_id: int
    digest: str
    media_type: str
    tag: str | None
    actor: Actor


@dataclass(frozen=True)
class ManifestDeleted:
    repository: str
    repository_id: int
    digest: str
    actor: Actor


@dataclass(frozen=True)
class BlobDeleted:
    repository: str
    repository_id: int
    digest: str
    actor: Actor


class ChangeRefused(RegistryError):
    """A hook refused a change; after the transaction rolled back, every hook hears of it (`change_refused`)."""

    def __init__(self, code: ErrorCode, message: str, detail: Any, event: object, rule: str) -> None:
        super().__init__(code, message, detail)
        self.event = event
        self.rule = rule


class RegistryHook:
    """Base of every hook: each method does nothing unless a subclass overrides it."""

    def repository_created(self, connection: sa.Connection, event: RepositoryCreated) -> None:
        """May refuse the creation (e.g. NAME_UNKNOWN when repositories must be created explicitly)."""

    def tag_changing(self, connection: sa.Connection, change: TagChange) -> None:
        """Called before the tag row changes; `old_digest` is read under the repository's write lock."""

    def manifest_pushed(self, connection: sa.Connection, event: ManifestPushed) -> None:
        """Called after the manifest row (and its tag) is written."""

    def manifest_deleting(self, connection: sa.Connection, event: ManifestDeleted) -> None:
        """Called before a manifest is deleted (its tags get `tag_changing` calls first)."""

    def blob_deleted(self, connection: sa.Connection, event: BlobDeleted) -> None:
        """Called after a blob is unlinked from a repository."""

    def change_refused(self, refusal: ChangeRefused) -> None:
        """Called outside any transaction after a hook refused a change (e.g. to audit the refusal)."""


Hooks = Sequence[RegistryHook]


def ensure_repository(connection: sa.Connection, name: str, actor: Actor, hooks: Hooks) -> int:
    """The repository's id; a new repository is created only if every hook lets it be."""
    repository_id = repositories.find_id(connection, name)
    if repository_id is not None:
        return repository_id
    repository_id = repositories.ensure(connection, name)
    for hook in hooks:
        hook.repository_created(connection, RepositoryCreated(name, repository_id, actor))
    return repository_id


@contextlib.contextmanager
def reporting_refusals(hooks: Hooks) -> Iterator[None]:
    """Wrap a write transaction: a refusal raised inside is told to every hook once it has rolled back."""
    try:
        yield
    except ChangeRefused as refusal:
        for hook in hooks:
            hook.change_refused(refusal)
        raise
