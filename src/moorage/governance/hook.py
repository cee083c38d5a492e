"""The governance hook: what the registry's writes must respect and leave behind.

Inside each push or delete transaction it creates repositories from templates (or refuses an
unknown one), enforces tag immutability and tag naming rules, and appends tag history and audit entries, so a refused
change leaves nothing and an accepted one always leaves its record.
"""

from __future__ import annotations

import sqlalchemy as sa

from moorage.domain.errors import ErrorCode
from moorage.governance.audit import AuditLog
from moorage.governance.settings import RepositorySettings, settings_from, to_document
from moorage.governance.tag_naming import rules_in_force
from moorage.governance.tag_rules import decide
from moorage.governance.templates import adopt_policy, template_for
from moorage.metadata import history, images, repository_settings
from moorage.metadata import tag_rules as tag_rule_queries
from moorage.registry.hooks import (
    BlobDeleted,
    ChangeRefused,
    ManifestDeleted,
    ManifestPushed,
    RegistryHook,
    RepositoryCreated,
    TagChange,
)


class GovernanceHook(RegistryHook):
    def __init__(self, audit: AuditLog, create_on_push: bool) -> None:
        self.audit = audit
        self.create_on_push = create_on_push
        """Whether a push may create a repository no template speaks for (GHCR: yes; ECR: no)."""

    def repository_created(self, connection: sa.Connection, event: RepositoryCreated) -> None:
        template = template_for(connection, event.name)
        allowed = template.create_on_push if template is not None else self.create_on_push
        if not allowed:
            raise ChangeRefused(
                ErrorCode.NAME_UNKNOWN,
                f"repository {event.name} does not exist and pushes do not create repositories here; "
                "create it first (moorage repo create)",
                {"name": event.name},
                event,
                "create on push is disabled for this namespace",
            )
        settings = template.settings if template is not None else RepositorySettings()
        repository_settings.save(connection, event.repository_id, to_document(settings), event.actor.describe())
        adopt_policy(connection, event.name, settings, replace=False)
        detail = {"created_on_push": True, "template": template.prefix if template else None}
        self.audit.record("repository.create", event.actor, event.name, detail=detail, connection=connection)

    def tag_changing(self, connection: sa.Connection, change: TagChange) -> None:
        if change.old_digest == change.new_digest:
            return  # the same manifest pushed again: nothing moves, so nothing to refuse or record
        if change.new_digest is not None:
            self._check_tag_name(connection, change)
        if change.old_digest is not None and change.override is None:
            # A delete by digest removes the tag as surely as a tag delete: both are refused (ECR's
            # batch-delete-image allows it; docs/governance.md says why we do not).
            document = repository_settings.settings_of(connection, change.repository_id)
            rule = settings_from(document).mutability if document is not None else None
            decision = rule.decide(change.tag) if rule is not None else None
            if decision is not None and decision.immutable:
                verb = "deleted" if change.new_digest is None else "moved"
                if change.with_manifest:
                    verb = "deleted by deleting its manifest"
                message = (
                    f"tag {change.tag} of {change.repository} is immutable ({decision.reason}) and cannot be "
                    f"{verb}: it points to {change.old_digest}"
                )
                if change.with_manifest:
                    message += "; a registry admin may force the delete with a reason through /api/v1"
                refused = {"tag": change.tag, "rule": decision.reason, "digest": change.old_digest}
                raise ChangeRefused(ErrorCode.DENIED, message, refused, change, decision.reason)
        history.append_tag_event(
            connection, change.repository, change.tag, change.old_digest, change.new_digest, change.actor
        )
        action = (
            "tag.create" if change.old_digest is None else "tag.delete" if change.new_digest is None else "tag.move"
        )
        detail: dict[str, object] = {"old_digest": change.old_digest, "new_digest": change.new_digest}
        if change.override is not None:
            detail["override"] = change.override
        self.audit.record(action, change.actor, change.repository, change.tag, detail=detail, connection=connection)

    def _check_tag_name(self, connection: sa.Connection, change: TagChange) -> None:
        """Refuse a tag that the naming rules of the repository or its namespaces do not allow."""
        own = {"tag_rules": tag_rule_queries.of_repository(connection, change.repository_id)}
        decision = decide(change.tag, rules_in_force(connection, change.repository, own))
        if not decision.allowed:
            message = f"{decision.reason}; {change.repository} does not take this tag (a push by digest does)"
            refused = {"tag": change.tag, "rule": decision.rule, "source": decision.source}
            raise ChangeRefused(ErrorCode.DENIED, message, refused, change, decision.reason)

    def manifest_pushed(self, connection: sa.Connection, event: ManifestPushed) -> None:
        if not images.record_push(connection, event.repository_id, event.digest, event.actor.describe()):
            return  # the same manifest again: nothing changed (a new tag on it has its own entry)
        detail = {"media_type": event.media_type, "tag": event.tag}
        self.audit.record(
            "manifest.push", event.actor, event.repository, event.digest, detail=detail, connection=connection
        )

    def manifest_deleting(self, connection: sa.Connection, event: ManifestDeleted) -> None:
        images.forget(connection, event.repository_id, event.digest)
        self.audit.record("manifest.delete", event.actor, event.repository, event.digest, connection=connection)

    def blob_deleted(self, connection: sa.Connection, event: BlobDeleted) -> None:
        self.audit.record("blob.delete", event.actor, event.repository, event.digest, connection=connection)

    def change_refused(self, refusal: ChangeRefused) -> None:
        event = refusal.event
        detail: dict[str, object] = {"reason": refusal.rule}
        if isinstance(event, TagChange):
            action = "tag.delete" if event.new_digest is None else "tag.move" if event.old_digest else "tag.create"
            detail.update(current=event.old_digest, attempted=event.new_digest)
            self.audit.record(action, event.actor, event.repository, event.tag, "denied", detail)
        elif isinstance(event, RepositoryCreated):
            self.audit.record("repository.create", event.actor, event.name, None, "denied", detail)
