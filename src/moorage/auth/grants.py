"""What a caller may do on which repositories: grants, roles, and the rule that combines them.

A `Principal` is an authenticated `Actor` plus, optionally, an explicit list of `Grant`s.
Users carry no list (`grants=None`): their rights come from the roles they hold in the metadata
store. Scoped credentials (access tokens, robots, OIDC-exchanged credentials) carry exactly the
grants they were issued with; an access token is in addition bounded by its owner's roles
(`bounded_by_roles`), so a token never outlives a revoked role.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from moorage.domain.access import ANONYMOUS, Action, Actor

ALL_ACTIONS = frozenset(Action)


class Role(StrEnum):
    """Roles on a namespace or repository, each including the ones before it."""

    READ = "read"
    WRITE = "write"
    DELETE = "delete"
    ADMIN = "admin"

    @property
    def actions(self) -> frozenset[Action]:
        return _ROLE_ACTIONS[self]


_ROLE_ACTIONS = {
    Role.READ: frozenset({Action.PULL}),
    Role.WRITE: frozenset({Action.PULL, Action.PUSH}),
    Role.DELETE: frozenset({Action.PULL, Action.PUSH, Action.DELETE}),
    Role.ADMIN: ALL_ACTIONS,
}


def expand_actions(actions: Iterable[Action | str]) -> frozenset[Action]:
    """The actions a scope list implies: `push` and `delete` need `pull`, `admin` means everything.

    A token scoped `push` that could not pull would break every client (they HEAD blobs before
    pushing), so scopes are widened the way GHCR's `write:packages` implies `read:packages`.
    """
    result: set[Action] = set()
    for action in actions:
        action = Action(action)
        if action is Action.ADMIN:
            return ALL_ACTIONS
        result.add(action)
        result.add(Action.PULL)
    return frozenset(result)


def pattern_matches(pattern: str, repository: str) -> bool:
    """Whether a repository pattern covers a repository.

    `*` covers everything; `team/*` covers every repository below `team/` at any depth;
    anything else is an exact repository name.
    """
    if pattern == "*":
        return True
    if pattern.endswith("/*"):
        return repository.startswith(pattern[:-1])
    return pattern == repository


def validate_pattern(pattern: str) -> str:
    """Refuse patterns with a wildcard anywhere but as the whole pattern or the last component."""
    body = pattern[:-2] if pattern.endswith("/*") else pattern
    if not pattern or (pattern != "*" and ("*" in body or not body)):
        raise ValueError(f"invalid repository pattern {pattern!r}: use NAME, NAMESPACE/* or *")
    return pattern


def grants_to_json(grants: Iterable[Grant]) -> list[dict[str, object]]:
    """Grants as stored in the metadata store and carried in signed tokens."""
    return [{"pattern": g.repository_pattern, "actions": sorted(g.actions)} for g in grants]


def grants_from_json(items: Iterable[dict[str, object]]) -> tuple[Grant, ...]:
    return tuple(
        Grant(str(item["pattern"]), frozenset(Action(a) for a in item["actions"]))  # type: ignore[attr-defined]
        for item in items
    )


@dataclass(frozen=True)
class Grant:
    """Actions allowed on the repositories a pattern covers."""

    repository_pattern: str
    actions: frozenset[Action]

    def covers(self, repository: str) -> bool:
        return pattern_matches(self.repository_pattern, repository)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller and the grants that bound it (None: decide by roles)."""

    actor: Actor
    grants: tuple[Grant, ...] | None
    bounded_by_roles: bool = False
    """With grants: also require the actor's (user's) roles to allow the action (access tokens)."""
    expires_at: datetime | None = None
    """When the credential the caller presented stops working (None: it does not expire)."""

    def manages_account(self) -> bool:
        """Whether the credential may manage its owner's account (tokens, organisations).

        A password (or a login password made from one) carries the owner's full rights; a scoped
        credential only when it was issued `admin` on everything (`*`), whatever its owner's roles.
        """
        if self.grants is None:
            return self.actor.kind == "user"
        return self.actor.kind == "token" and any(
            g.repository_pattern == "*" and Action.ADMIN in g.actions for g in self.grants
        )


class RoleLookup(Protocol):
    """The roles held in the metadata store: what an actor may do on a repository.

    Includes public (anonymous pull) repositories for every actor. Contract: pure read,
    no side effects; an unknown actor or repository yields the actions allowed to anyone.
    """

    def actions_for(self, actor: Actor, repository: str) -> frozenset[Action]: ...


def granted_actions(grants: Iterable[Grant], repository: str) -> frozenset[Action]:
    """The union of the actions of every grant covering the repository."""
    actions: set[Action] = set()
    for grant in grants:
        if grant.covers(repository):
            actions |= grant.actions
    return frozenset(actions)


def allowed_actions(principal: Principal, repository: str, roles: RoleLookup) -> frozenset[Action]:
    """What the principal may do on the repository.

    Without grants: its roles. With grants: the grants (intersected with the owner's roles when
    `bounded_by_roles`), plus whatever anyone may do there (public repositories stay pullable
    with a narrowly scoped credential).
    """
    if principal.grants is None:
        return roles.actions_for(principal.actor, repository)
    granted = granted_actions(principal.grants, repository)
    if principal.bounded_by_roles and granted:
        granted &= roles.actions_for(principal.actor, repository)
    return granted | roles.actions_for(ANONYMOUS, repository)
