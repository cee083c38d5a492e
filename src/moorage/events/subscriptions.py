"""Webhook subscriptions: who hears what, and where it is sent.

A subscription's signing secret is generated here, returned once (at creation and on rotation)
and stored only sealed with the secret box (auth/secret_box.py), like the token signing keys: a
database dump does not let anyone forge deliveries. Every change is audited, never with the secret.
Who may manage a subscription (the admins of its repository or namespace, registry admins for the
registry scope) is checked at the HTTP edge against `scopes.permission_pattern`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from moorage.auth.secret_box import SecretBox
from moorage.domain.access import Actor
from moorage.domain.errors import RegistryError
from moorage.domain.references import validate_name
from moorage.events.errors import InvalidSubscription, UnknownSubscription
from moorage.events.model import SUBSCRIBABLE
from moorage.events.scopes import REGISTRY_SCOPE, ScopeKind, permission_pattern
from moorage.events.signing import new_secret
from moorage.events.targets import TargetPolicy, TargetRefused, parse
from moorage.metadata import webhooks as queries
from moorage.metadata.common import now
from moorage.metadata.database import Database

AuditRecord = Callable[..., None]
"""`AuditLog.record(action, actor, repository, target, outcome, detail, connection)` (governance/audit.py)."""

MAX_DESCRIPTION = 500


def origin(url: str) -> str:
    """A URL's scheme, host and port only: what the audit log keeps (paths often carry receivers' tokens)."""
    target = parse(url)
    return f"{target.scheme}://{target.host_header}"


@dataclass(frozen=True)
class Subscription:
    id: int
    scope_kind: str
    scope: str
    url: str
    events: list[str]
    enabled: bool
    description: str
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> Subscription:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    @property
    def permission_pattern(self) -> str:
        return permission_pattern(self.scope_kind, self.scope)

    @property
    def repository(self) -> str | None:
        """The repository the audit log files changes under (a repository subscription's own)."""
        return self.scope if self.scope_kind == ScopeKind.REPOSITORY else None


def checked_scope(kind: str, scope: str) -> tuple[str, str]:
    if kind not in tuple(ScopeKind):
        raise InvalidSubscription(f"scope_kind is one of {', '.join(ScopeKind)}")
    if kind == ScopeKind.REGISTRY:
        if scope not in ("", REGISTRY_SCOPE):
            raise InvalidSubscription("a registry subscription has the scope '*'")
        return kind, REGISTRY_SCOPE
    try:
        return kind, validate_name(scope)
    except RegistryError as error:
        raise InvalidSubscription(f"{kind} {scope!r}: {error.message}") from None


def checked_events(events: Sequence[str] | None) -> list[str]:
    if events is None:
        return list(SUBSCRIBABLE)
    unknown = sorted(set(events) - set(SUBSCRIBABLE))
    if unknown:
        raise InvalidSubscription(f"unknown event types {unknown}; known: {', '.join(SUBSCRIBABLE)}")
    if not events:
        raise InvalidSubscription("a subscription hears at least one event type")
    return [kind for kind in SUBSCRIBABLE if kind in events]


def checked_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION or any(ord(c) < 32 and c not in "\t" for c in description):
        raise InvalidSubscription(f"a description is one line of at most {MAX_DESCRIPTION} characters")
    return description


class Subscriptions:
    def __init__(self, database: Database, box: SecretBox, policy: TargetPolicy, audit: AuditRecord) -> None:
        self.database = database
        self.box = box
        self.policy = policy
        self.audit = audit

    def _checked_url(self, url: str) -> str:
        try:
            self.policy.check(url)
        except TargetRefused as refused:
            raise InvalidSubscription(f"webhook URL refused: {refused}") from None
        return url

    def create(
        self,
        actor: Actor,
        scope_kind: str,
        scope: str,
        url: str,
        events: Sequence[str] | None = None,
        enabled: bool = True,
        description: str = "",
    ) -> tuple[Subscription, str]:
        """A new subscription and its signing secret (the only time it is shown, with rotations)."""
        scope_kind, scope = checked_scope(scope_kind, scope)
        values: dict[str, Any] = {
            "scope_kind": scope_kind,
            "scope": scope,
            "url": self._checked_url(url),
            "events": checked_events(events),
            "enabled": enabled,
            "description": checked_description(description),
            "created_by": actor.describe(),
        }
        secret = new_secret()
        moment = now()
        values.update(secret_encrypted=self.box.encrypt(secret.encode()), created_at=moment, updated_at=moment)
        with self.database.write() as connection:
            subscription_id = queries.insert_subscription(connection, values)
            found = self._get(connection, subscription_id)
            self._audit("webhook.create", actor, found, {"url": origin(url), "events": found.events}, connection)
        return found, secret

    def get(self, subscription_id: int) -> Subscription:
        with self.database.read() as connection:
            return self._get(connection, subscription_id)

    def _get(self, connection: Any, subscription_id: int) -> Subscription:
        row = queries.subscription(connection, subscription_id)
        if row is None:
            raise UnknownSubscription(f"no webhook {subscription_id}")
        return Subscription.of(row)

    def list(self, scope: str | None = None) -> list[Subscription]:
        with self.database.read() as connection:
            return [Subscription.of(row) for row in queries.subscriptions(connection, scope)]

    def update(
        self,
        actor: Actor,
        subscription_id: int,
        url: str | None = None,
        events: Sequence[str] | None = None,
        enabled: bool | None = None,
        description: str | None = None,
    ) -> Subscription:
        changes: dict[str, Any] = {}
        if url is not None:
            changes["url"] = self._checked_url(url)
        if events is not None:
            changes["events"] = checked_events(events)
        if enabled is not None:
            changes["enabled"] = enabled
        if description is not None:
            changes["description"] = checked_description(description)
        with self.database.write() as connection:
            self._get(connection, subscription_id)
            if changes:
                queries.update_subscription(connection, subscription_id, {**changes, "updated_at": now()})
            found = self._get(connection, subscription_id)
            audited = {**changes, "url": origin(changes["url"])} if "url" in changes else changes
            self._audit("webhook.update", actor, found, audited, connection)
        return found

    def delete(self, actor: Actor, subscription_id: int) -> None:
        with self.database.write() as connection:
            found = self._get(connection, subscription_id)
            queries.delete_subscription(connection, subscription_id)
            self._audit("webhook.delete", actor, found, {"url": origin(found.url)}, connection)

    def rotate_secret(self, actor: Actor, subscription_id: int) -> tuple[Subscription, str]:
        """A new signing secret, used from the next attempt on (retries included); the old one stops."""
        secret = new_secret()
        with self.database.write() as connection:
            self._get(connection, subscription_id)
            sealed = self.box.encrypt(secret.encode())
            queries.update_subscription(connection, subscription_id, {"secret_encrypted": sealed, "updated_at": now()})
            found = self._get(connection, subscription_id)
            self._audit("webhook.rotate_secret", actor, found, {}, connection)
        return found, secret

    def _audit(self, action: str, actor: Actor, found: Subscription, detail: dict[str, Any], connection: Any) -> None:
        detail = {"scope_kind": found.scope_kind, "scope": found.scope, **detail}
        self.audit(action, actor, found.repository, f"webhook {found.id}", "success", detail, connection)
