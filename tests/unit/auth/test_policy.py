"""The AccessPolicy given to services, over a real (SQLite) metadata store: roles, tokens, robots, public."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from moorage.app_auth import AuthComponents, build_auth
from moorage.auth.grants import Grant, Role
from moorage.config import Settings
from moorage.domain.access import ANONYMOUS, Action, Actor
from moorage.metadata.database import Database

PULL, PUSH, ADMIN = Action.PULL, Action.PUSH, Action.ADMIN


@pytest.fixture
def auth(tmp_path: Path) -> AuthComponents:
    settings = Settings(data_dir=tmp_path, auth_enabled=True)
    database = Database(settings.metadata_url())
    database.migrate()
    return build_auth(settings, database, is_public=lambda name: name == "acme/open")


def test_users_by_roles_tokens_by_grants_within_roles_robots_by_grants(auth: AuthComponents) -> None:
    auth.accounts.create_user("alice", "alice-password")
    auth.accounts.create_organization("acme", creator=None)
    auth.accounts.bind("user", "alice", "acme/*", Role.WRITE)
    policy = auth.policy
    alice = Actor("user", "alice")
    assert policy.allows(alice, "acme/api", PUSH) and not policy.allows(alice, "acme/api", ADMIN)
    assert policy.allows(alice, "alice/own", ADMIN)

    expires = datetime.now(UTC) + timedelta(days=1)  # non-expiring tokens are refused by default
    token, _ = auth.access_tokens.create("alice", "ci", (Grant("acme/api", frozenset({PULL})),), expires)
    as_token = Actor("token", "alice", token.id)
    assert policy.allows(as_token, "acme/api", PULL) and not policy.allows(as_token, "acme/api", PUSH)
    auth.access_tokens.revoke("alice", token.id)
    assert not policy.allows(as_token, "acme/api", PULL)

    auth.robots.create("acme", "bot", (Grant("acme/api", frozenset({PULL, PUSH})),), expires)
    robot = Actor("robot", "acme+bot", "acme+bot")
    assert policy.allows(robot, "acme/api", PUSH) and not policy.allows(robot, "acme/web", PULL)
    auth.robots.delete("acme", "bot")
    assert not policy.allows(robot, "acme/api", PUSH)


def test_public_repositories_come_from_grants_and_from_the_visibility_predicate(auth: AuthComponents) -> None:
    auth.accounts.bind("anonymous", "*", "acme/docs", Role.READ)
    assert auth.policy.allows(ANONYMOUS, "acme/docs", PULL)
    assert auth.policy.allows(ANONYMOUS, "acme/open", PULL)
    assert not auth.policy.allows(ANONYMOUS, "acme/open", PUSH)
    assert not auth.policy.allows(ANONYMOUS, "acme/closed", PULL)
    assert auth.policy.allows(Actor("oidc", "repo:acme/x"), "acme/open", PULL)


def test_an_organisation_over_a_namespace_in_use_is_refused_unless_an_admin_takes_it(auth: AuthComponents) -> None:
    from moorage.auth.accounts import NamespaceInUse

    auth.accounts.create_user("alice", "alice-password")
    auth.accounts.bind("user", "alice", "prod/api", Role.READ)
    with pytest.raises(NamespaceInUse, match="grants"):
        auth.accounts.create_organization("prod", creator="alice")
    assert not auth.accounts.organization_exists("prod")
    expires = datetime.now(UTC) + timedelta(days=1)
    auth.robots.create("builds", "ci", (Grant("builds/*", frozenset({PULL})),), expires)
    with pytest.raises(NamespaceInUse, match="robots"):
        auth.accounts.create_organization("builds", creator="alice")
    auth.accounts.create_organization("prod", creator=None, take_used_namespace=True)
    auth.accounts.create_organization("prodx", creator="alice")  # a prefix is not the namespace
    auth.accounts.delete_organization("prod")
    assert not [b for b in auth.accounts.list_bindings("prod")]
