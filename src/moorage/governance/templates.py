"""Repository creation templates: the settings a new repository under a prefix starts with (ECR)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from moorage.domain.access import Action, Actor
from moorage.governance.audit import EVERYTHING, AuditLog
from moorage.governance.errors import TemplateNotFound
from moorage.governance.settings import (
    CreationTemplate,
    RepositorySettings,
    check_input,
    most_specific,
    settings_from,
    to_document,
    validate_prefix,
)
from moorage.lifecycle.in_force import REPOSITORY
from moorage.lifecycle.policy import PolicyError, policy_text
from moorage.metadata import lifecycle_store, repository_settings
from moorage.metadata.database import Database
from moorage.metadata.repository_settings import TemplateRow as TemplateRow


def _template(row: repository_settings.TemplateRow) -> CreationTemplate:
    return CreationTemplate(row.prefix, row.create_on_push, settings_from(row.settings))


def template_for(connection: sa.Connection, repository: str) -> CreationTemplate | None:
    """The most specific template for a new repository, or None."""
    return most_specific([_template(row) for row in repository_settings.templates(connection)], repository)


def adopt_policy(connection: sa.Connection, repository: str, settings: RepositorySettings, replace: bool) -> None:
    """Make the settings' lifecycle policy the new repository's own (the one place policies live).

    Without `replace`, a policy already set for the name (through the lifecycle API, before the
    first push) is kept: a template gives defaults, it does not undo what someone set on purpose.
    """
    if settings.lifecycle_policy is None:
        return
    if not replace and lifecycle_store.get_policy(connection, REPOSITORY, repository) is not None:
        return
    try:
        text = policy_text(settings.lifecycle_policy)
    except PolicyError:
        if replace:
            raise
        # A template stored before templates were checked: a push must not fail on it; runs skip it, loudly.
        text = json.dumps(settings.lifecycle_policy, sort_keys=True)
    lifecycle_store.put_policy(connection, REPOSITORY, repository, text)


class TemplateService:
    def __init__(self, database: Database, audit: AuditLog) -> None:
        self.database = database
        self.audit = audit

    def list(self) -> list[tuple[CreationTemplate, repository_settings.TemplateRow]]:
        with self.database.read() as connection:
            return [(_template(row), row) for row in repository_settings.templates(connection)]

    def get(self, prefix: str) -> tuple[CreationTemplate, repository_settings.TemplateRow]:
        for template, row in self.list():
            if template.prefix == prefix:
                return template, row
        raise TemplateNotFound(f"no creation template for prefix {prefix!r}")

    def put(self, actor: Actor, prefix: str, create_on_push: bool, settings: dict[str, Any]) -> None:
        """Create or replace the template for `prefix`."""
        validate_prefix(prefix)
        self.audit.require(actor, EVERYTHING, Action.ADMIN, "template.update")
        check_input(settings)
        document = to_document(settings_from(settings))
        with self.database.write() as connection:
            before = _stored(connection, prefix)
            repository_settings.save_template(connection, prefix, create_on_push, document)
            detail: dict[str, Any] = {"create_on_push": create_on_push, "settings": document}
            if before is not None:
                detail["before"] = before
            self.audit.record("template.update", actor, None, prefix, detail=detail, connection=connection)

    def delete(self, actor: Actor, prefix: str) -> None:
        self.audit.require(actor, EVERYTHING, Action.ADMIN, "template.delete")
        with self.database.write() as connection:
            before = _stored(connection, prefix)
            if not repository_settings.delete_template(connection, prefix):
                raise TemplateNotFound(f"no creation template for prefix {prefix!r}")
            detail = {"before": before}
            self.audit.record("template.delete", actor, None, prefix, detail=detail, connection=connection)


def _stored(connection: sa.Connection, prefix: str) -> dict[str, Any] | None:
    """The template as stored now (the audit log's `before`), or None."""
    for row in repository_settings.templates(connection):
        if row.prefix == prefix:
            return {"create_on_push": row.create_on_push, "settings": row.settings}
    return None
