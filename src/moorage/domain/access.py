"""Who acts, and what they may do: the vocabulary shared by authentication and every service.

Authentication (src/moorage/auth) turns a request's credentials into an `Actor`; services record the
actor of each change (tag history, audit) and ask an `AccessPolicy` whether an action is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Action(StrEnum):
    """Actions on a repository, as Docker token scopes spell them (`repository:NAME:pull,push`)."""

    PULL = "pull"
    PUSH = "push"
    DELETE = "delete"
    ADMIN = "admin"


@dataclass(frozen=True)
class Actor:
    """Who made a request: kind (`anonymous`, `user`, `token`, `robot`, `oidc`), name, and where from."""

    kind: str
    name: str
    credential: str | None = None
    """Which credential acted (an access token's or robot secret's id, an OIDC subject), never a secret."""
    source_address: str | None = None

    def describe(self) -> str:
        return self.name if self.credential is None else f"{self.name} ({self.kind} {self.credential})"


ANONYMOUS = Actor("anonymous", "anonymous")


class AccessPolicy(Protocol):
    """Decides whether an actor may perform an action on a repository."""

    def allows(self, actor: Actor, repository: str, action: Action) -> bool: ...


class AllowAll:
    """The policy of a registry without authentication: everything is allowed."""

    def allows(self, actor: Actor, repository: str, action: Action) -> bool:
        return True
