"""The repository control plane: create, describe, list, update and delete repositories (ECR's API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from moorage.domain.access import Action, Actor
from moorage.domain.errors import RegistryError
from moorage.domain.references import validate_name
from moorage.governance.audit import AuditLog, utc
from moorage.governance.errors import InvalidSettings, RepositoryExists, RepositoryNotEmpty, RepositoryNotFound
from moorage.governance.settings import RepositorySettings, check_input, settings_from, to_document
from moorage.governance.templates import adopt_policy, template_for
from moorage.lifecycle.in_force import REPOSITORY, PolicyInForce, in_force, policy_index
from moorage.lifecycle.policy import policy_text
from moorage.metadata import collection, history, lifecycle_store, repositories, repository_settings, tags
from moorage.metadata.database import Database

MAX_PAGE = 1000


@dataclass(frozen=True)
class Repository:
    name: str
    created_at: datetime
    created_by: str | None
    settings: RepositorySettings
    image_count: int
    tag_count: int
    lifecycle: PolicyInForce | None = None
    """The lifecycle policy in force: the repository's own (`settings.lifecycle_policy`) or a namespace's."""


def _repository(row: repository_settings.RepositoryRow, policies: dict[tuple[str, str], str]) -> Repository:
    settings = settings_from(row.settings) if row.settings is not None else RepositorySettings()
    return Repository(
        row.name,
        utc(row.created_at),  # type: ignore[arg-type]
        row.created_by,
        settings,
        row.image_count,
        row.tag_count,
        in_force(policies, row.name),
    )


def checked_name(name: str) -> str:
    try:
        return validate_name(name)
    except RegistryError as error:
        raise InvalidSettings(error.message) from None


class RepositoryService:
    def __init__(self, database: Database, audit: AuditLog) -> None:
        self.database = database
        self.audit = audit

    def create(self, actor: Actor, name: str, settings: dict[str, Any] | None) -> Repository:
        """Create a repository; settings not given come from the creation template for its prefix."""
        checked_name(name)
        self.audit.require(actor, name, Action.ADMIN, "repository.create")
        check_input(settings or {})
        with self.database.write() as connection:
            if repositories.find_id(connection, name) is not None:
                raise RepositoryExists(f"repository {name} already exists")
            template = template_for(connection, name)
            base = template.settings if template is not None else RepositorySettings()
            created = base.updated(settings or {})
            document = to_document(created)
            repository_id = repositories.ensure(connection, name)
            repository_settings.save(connection, repository_id, document, actor.describe())
            adopt_policy(connection, name, created, replace=True)
            detail = {"settings": document, "template": template.prefix if template else None}
            self.audit.record("repository.create", actor, name, detail=detail, connection=connection)
        return self.describe(name)

    def describe(self, name: str) -> Repository:
        checked_name(name)
        with self.database.read() as connection:
            row = repository_settings.describe(connection, name)
            policies = policy_index(lifecycle_store.all_policies(connection))
        if row is None:
            raise RepositoryNotFound(f"repository {name} does not exist")
        return _repository(row, policies)

    def is_public(self, name: str) -> bool:
        """Whether anonymous clients may pull from the repository (for the authentication module's policy)."""
        with self.database.read() as connection:
            row = repository_settings.describe(connection, name)
        return row is not None and row.settings is not None and row.settings.get("visibility") == "public"

    def list(
        self, prefix: str | None, visibility: str | None, labels: dict[str, str], after: str | None, limit: int
    ) -> tuple[list[Repository], str | None]:
        """A page of repositories and the cursor of the next page (None on the last one).

        Label filters are applied to each page read, so a page may hold fewer than `limit` entries
        while more follow: clients go on until the cursor is None.
        """
        limit = max(1, min(limit, MAX_PAGE))
        with self.database.read() as connection:
            rows = repository_settings.search(connection, prefix, visibility, after, limit + 1)
            policies = policy_index(lifecycle_store.all_policies(connection))
        more = len(rows) > limit
        rows = rows[:limit]
        found = [_repository(row, policies) for row in rows]
        if labels:
            found = [r for r in found if all(r.settings.labels.get(k) == v for k, v in labels.items())]
        return found, rows[-1].name if more else None

    def update(self, actor: Actor, name: str, changes: dict[str, Any]) -> Repository:
        """Change some settings; the others keep their values."""
        checked_name(name)
        self.audit.require(actor, name, Action.ADMIN, "repository.update")
        check_input(changes)
        with self.database.write() as connection:
            repository_id = repositories.find_id(connection, name)
            if repository_id is None:
                raise RepositoryNotFound(f"repository {name} does not exist")
            current = repository_settings.settings_of(connection, repository_id)
            before = settings_from(current) if current is not None else RepositorySettings()
            document = to_document(before.updated(changes))
            repository_settings.save(connection, repository_id, document, actor.describe())
            if "lifecycle_policy" in changes:  # the same row `PUT …/lifecycle-policy` sets
                policy = changes["lifecycle_policy"]
                if policy is None:
                    lifecycle_store.delete_policy(connection, REPOSITORY, name)
                else:
                    lifecycle_store.put_policy(connection, REPOSITORY, name, policy_text(policy))
            detail = {"before": to_document(before), "after": document}
            self.audit.record("repository.update", actor, name, detail=detail, connection=connection)
        return self.describe(name)

    def delete(self, actor: Actor, name: str, force: bool) -> None:
        """Delete a repository; refused while it holds images unless `force`.

        A forced delete records the deletion of each tag in the tag history, which outlives the repository.
        """
        checked_name(name)
        self.audit.require(actor, name, Action.DELETE, "repository.delete")
        with self.database.write() as connection:
            row = repository_settings.describe(connection, name)
            if row is None:
                raise RepositoryNotFound(f"repository {name} does not exist")
            if row.image_count and not force:
                raise RepositoryNotEmpty(
                    f"repository {name} holds {row.image_count} image(s); delete them first or force the deletion"
                )
            repositories.lock(connection, row.id)
            for tag in tags.list_names(connection, row.id, None, None):
                history.append_tag_event(connection, name, tag, tags.current(connection, row.id, tag), None, actor)
            collection.release_repository(connection, row.id)  # its blobs get a grace period (docs/gc.md)
            lifecycle_store.delete_policy(connection, REPOSITORY, name)  # goes with it, as in ECR
            repositories.delete(connection, row.id)
            detail = {"forced": force, "images": row.image_count, "tags": row.tag_count}
            self.audit.record("repository.delete", actor, name, detail=detail, connection=connection)
