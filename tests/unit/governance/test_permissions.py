"""Governance asks the access policy before every change, refuses with PermissionDenied, and audits the refusal.

The policy here is a small implementation of the `AccessPolicy` protocol (the plug-in point the
authentication module fills); the services and the SQLite metadata store are the real ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from moorage.domain.access import Action, Actor
from moorage.governance.errors import PermissionDenied
from moorage.governance.services import Governance
from moorage.metadata.database import Database, sqlite_url
from moorage.metadata.history import AuditQuery
from moorage.registry.manifests import ManifestService

ALICE = Actor("user", "alice", source_address="192.0.2.1")
BOB = Actor("user", "bob", source_address="192.0.2.2")


class Roles:
    """alice administers everything; bob may only pull and push."""

    def allows(self, actor: Actor, repository: str, action: Action) -> bool:
        return actor.name == "alice" or action in (Action.PULL, Action.PUSH)


@pytest.fixture
def governance(tmp_path: Path) -> Iterator[Governance]:
    database = Database(sqlite_url(tmp_path))
    database.migrate()
    built = Governance.build(database, Roles(), create_on_push=True, pull_flush_interval=60)
    yield built.with_manifests(database, ManifestService(database, [built.hook]))
    database.dispose()


def denied_actions(governance: Governance) -> list[tuple[str, str]]:
    entries = governance.audit.query(ALICE, AuditQuery(outcome="denied"))
    return [(entry.action, entry.actor.name) for entry in entries]


def test_settings_changes_need_admin(governance: Governance) -> None:
    with pytest.raises(PermissionDenied):
        governance.repositories.create(BOB, "team/app", {})
    governance.repositories.create(ALICE, "team/app", {})
    with pytest.raises(PermissionDenied):
        governance.repositories.update(BOB, "team/app", {"tag_mutability": "MUTABLE"})
    with pytest.raises(PermissionDenied):
        governance.templates.put(BOB, "team", True, {})
    assert denied_actions(governance) == [
        ("repository.create", "bob"),
        ("repository.update", "bob"),
        ("template.update", "bob"),
    ]


def test_deletes_need_delete(governance: Governance) -> None:
    governance.repositories.create(ALICE, "team/app", {})
    assert governance.images is not None
    with pytest.raises(PermissionDenied):
        governance.images.batch_delete(BOB, "team/app", ["v1"])
    with pytest.raises(PermissionDenied):
        governance.repositories.delete(BOB, "team/app", force=True)
    governance.repositories.delete(ALICE, "team/app", force=False)
    assert [action for action, _ in denied_actions(governance)] == ["image.batch_delete", "repository.delete"]


def test_reading_the_audit_log_needs_admin(governance: Governance) -> None:
    with pytest.raises(PermissionDenied):
        governance.audit.query(BOB, AuditQuery())
    assert denied_actions(governance) == [("audit.read", "bob")]
    [entry] = governance.audit.query(ALICE, AuditQuery(outcome="denied"))
    assert entry.actor.source_address == "192.0.2.2"


def test_visibility_is_readable_for_the_access_policy(governance: Governance) -> None:
    governance.repositories.create(ALICE, "team/public", {"visibility": "public"})
    governance.repositories.create(ALICE, "team/private", {})
    assert governance.repositories.is_public("team/public")
    assert not governance.repositories.is_public("team/private")
    assert not governance.repositories.is_public("team/unknown")
