"""Tag naming rules in force: reading them for a repository, and setting a namespace's.

A repository's own rules are one of its settings (`tag_rules`, set like any other, and copied
from its creation template); a namespace's rules live here and apply, as they change, to every
repository under `NAMESPACE/`. The pure decision is `tag_rules.decide`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from moorage.domain.access import Action, Actor
from moorage.governance.audit import AuditLog, utc
from moorage.governance.errors import GovernanceError, InvalidSettings
from moorage.governance.repositories import checked_name
from moorage.governance.tag_rules import InvalidTagRule, RulesInForce, TagRules, namespaces_of
from moorage.metadata import repositories, repository_settings
from moorage.metadata import tag_rules as queries
from moorage.metadata.database import Database

MAX_NAMESPACE = 253
"""A repository under it needs `NAMESPACE/x` within the 255 characters of a name."""


def checked_namespace(namespace: str) -> str:
    checked_name(namespace)
    if len(namespace) > MAX_NAMESPACE:
        raise InvalidSettings(f"a namespace has at most {MAX_NAMESPACE} characters (its repositories add '/NAME')")
    return namespace


class NoTagRules(GovernanceError):
    status = 404
    title = "No tag naming rules"


def rules_in_force(connection: sa.Connection, repository: str, own: dict[str, Any] | None) -> list[RulesInForce]:
    """Every rule set a tag pushed to `repository` must pass: its namespaces' (outermost first), then its own.

    `own` is the repository's settings document (None: it has none yet).
    """
    namespaces = namespaces_of(repository)
    stored = queries.of_namespaces(connection, namespaces)
    layers = [RulesInForce("namespace", name, TagRules.of(stored[name])) for name in namespaces if name in stored]
    if own is not None and own.get("tag_rules") is not None:
        layers.append(RulesInForce("repository", repository, TagRules.of(own["tag_rules"])))
    return layers


@dataclass(frozen=True)
class NamespaceTagRules:
    namespace: str
    rules: TagRules
    updated_by: str
    updated_at: datetime


class TagRuleService:
    def __init__(self, database: Database, audit: AuditLog) -> None:
        self.database = database
        self.audit = audit

    def in_force(self, repository: str) -> list[RulesInForce]:
        """The rule sets that apply to pushes to `repository` (which need not exist yet)."""
        checked_name(repository)
        with self.database.read() as connection:
            repository_id = repositories.find_id(connection, repository)
            own = repository_settings.settings_of(connection, repository_id) if repository_id is not None else None
            return rules_in_force(connection, repository, own)

    def list(self) -> list[NamespaceTagRules]:
        with self.database.read() as connection:
            rows = queries.all_namespaces(connection)
        return [NamespaceTagRules(n, TagRules.of(r), by, utc(at)) for n, r, by, at in rows]  # type: ignore[arg-type]

    def get(self, namespace: str) -> NamespaceTagRules:
        checked_namespace(namespace)
        for found in self.list():
            if found.namespace == namespace:
                return found
        raise NoTagRules(f"namespace {namespace!r} has no tag naming rules")

    def put(self, actor: Actor, namespace: str, document: dict[str, Any]) -> NamespaceTagRules:
        """Set (replace) a namespace's rules; tags that already exist are left as they are."""
        checked_namespace(namespace)
        self.audit.require(actor, f"{namespace}/*", Action.ADMIN, "tag_rules.update")
        try:
            rules = TagRules.of(document).to_document()
        except InvalidTagRule as error:
            raise InvalidSettings(f"tag rules: {error}") from None
        with self.database.write() as connection:
            before = queries.of_namespaces(connection, [namespace]).get(namespace)
            queries.put_namespace(connection, namespace, rules, actor.describe())
            detail = {"scope": "namespace", "before": before, "after": rules}
            self.audit.record("tag_rules.update", actor, None, f"{namespace}/*", detail=detail, connection=connection)
        return self.get(namespace)

    def delete(self, actor: Actor, namespace: str) -> None:
        checked_namespace(namespace)
        self.audit.require(actor, f"{namespace}/*", Action.ADMIN, "tag_rules.delete")
        with self.database.write() as connection:
            before = queries.of_namespaces(connection, [namespace]).get(namespace)
            if before is None or not queries.delete_namespace(connection, namespace):
                raise NoTagRules(f"namespace {namespace!r} has no tag naming rules")
            detail = {"scope": "namespace", "before": before}
            self.audit.record("tag_rules.delete", actor, None, f"{namespace}/*", detail=detail, connection=connection)
