"""Roles from the metadata store: what users, their teams and anyone (public) may do where.

A user is admin of their own namespace (the first path component equal to their name); server
admins may do everything; role bindings grant a role on a repository (`ns/app`), a namespace
(`ns/*`) or everything (`*`) to a user, a team (`org/team`) or anyone (`anonymous`, pull only:
public repositories).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from moorage.auth.grants import ALL_ACTIONS, Grant, Role, granted_actions, grants_from_json, pattern_matches
from moorage.domain.access import Action, Actor
from moorage.metadata import accounts, credentials
from moorage.metadata.common import now
from moorage.metadata.database import Database

PublicRepositories = Callable[[str], bool]
"""Whether anyone may pull a repository (e.g. its visibility setting is `public`)."""

USER_KINDS = frozenset({"user", "token"})
"""Actor kinds whose name is a user's name (a password login, a login password, an access token)."""


@dataclass(frozen=True)
class RoleView:
    """Everything that decides one actor's rights, read once (the catalog asks for many repositories)."""

    is_admin: bool
    own_namespace: str | None
    bindings: tuple[tuple[str, Role], ...]
    is_public: PublicRepositories | None = None
    robot_grants: tuple[Grant, ...] = ()
    """A robot's grants as they are now (its credentials are bounded by them)."""

    def actions_for(self, repository: str) -> frozenset[Action]:
        if self.is_admin:
            return ALL_ACTIONS
        if self.own_namespace is not None and repository.startswith(self.own_namespace + "/"):
            return ALL_ACTIONS
        actions: set[Action] = set(granted_actions(self.robot_grants, repository))
        for pattern, role in self.bindings:
            if pattern_matches(pattern, repository):
                actions |= role.actions
        if Action.PULL not in actions and self.is_public is not None and self.is_public(repository):
            actions.add(Action.PULL)
        return frozenset(actions)


class StoredRoles:
    """The `RoleLookup` backed by the metadata store.

    `is_public` is another source of anonymous pull besides `anonymous` grants, such as a
    repository's visibility setting (governance); the composition root passes it in.
    """

    def __init__(self, database: Database, is_public: PublicRepositories | None = None) -> None:
        self.database = database
        self.is_public = is_public

    def view(self, actor: Actor) -> RoleView:
        subjects = [("anonymous", "*")]
        with self.database.read() as connection:
            user = accounts.find_user(connection, actor.name) if actor.kind in USER_KINDS else None
            if user is not None and not user.disabled:
                subjects.append(("user", user.name))
                subjects += [("team", team) for team in accounts.teams_of(connection, user.id)]
            bindings = accounts.bindings_for(connection, subjects)
            robot = _robot(connection, actor.name) if actor.kind == "robot" else None
        usable = user is not None and not user.disabled
        return RoleView(
            is_admin=usable and user.is_admin,  # type: ignore[union-attr]
            own_namespace=user.name if usable else None,  # type: ignore[union-attr]
            bindings=tuple((b.pattern, Role(b.role) if b.subject_kind != "anonymous" else Role.READ) for b in bindings),
            is_public=self.is_public,
            robot_grants=() if robot is None else robot,
        )

    def actions_for(self, actor: Actor, repository: str) -> frozenset[Action]:
        return self.view(actor).actions_for(repository)


def _robot(connection: sa.Connection, username: str) -> tuple[Grant, ...] | None:
    """The current grants of an existing, unexpired robot (`NAMESPACE+NAME`)."""
    namespace, _, name = username.partition("+")
    row = credentials.find_robot(connection, namespace, name)
    if row is None or (row.expires_at is not None and row.expires_at <= now()):
        return None
    return grants_from_json(row.grants)


class FixedRoles:
    """A `RoleLookup` over a view already read (one catalog request asks many times)."""

    def __init__(self, roles: StoredRoles) -> None:
        self.roles = roles
        self._views: dict[tuple[str, str], RoleView] = {}

    def actions_for(self, actor: Actor, repository: str) -> frozenset[Action]:
        key = (actor.kind, actor.name)
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = self.roles.view(actor)
        return view.actions_for(repository)
