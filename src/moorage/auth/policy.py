"""The `AccessPolicy` services ask (governance: repository settings, audit, images): roles and grants.

Services see only an `Actor`, not the credential it logged in with, so the policy finds the
actor's grants again: a user by roles; an access token by its stored grants bounded by its
owner's roles; a robot by its stored grants; anyone else (anonymous, federated identities whose
grants live in their exchanged credential) by what anyone may do. A revoked token or deleted
robot has no grants left.
"""

from __future__ import annotations

from moorage.auth.access_tokens import AccessTokens
from moorage.auth.grants import Principal, allowed_actions
from moorage.auth.robots import Robots
from moorage.auth.roles import StoredRoles
from moorage.domain.access import Action, Actor


class RolePolicy:
    def __init__(self, roles: StoredRoles, access_tokens: AccessTokens, robots: Robots) -> None:
        self.roles = roles
        self.access_tokens = access_tokens
        self.robots = robots

    def principal_of(self, actor: Actor) -> Principal:
        if actor.kind in ("user", "anonymous"):
            return Principal(actor, None)
        if actor.kind == "token" and actor.credential is not None:
            return Principal(actor, self.access_tokens.grants_of(actor.credential), bounded_by_roles=True)
        if actor.kind == "robot":
            return Principal(actor, self.robots.grants_of(actor.name))
        return Principal(actor, ())

    def allows(self, actor: Actor, repository: str, action: Action) -> bool:
        return action in allowed_actions(self.principal_of(actor), repository, self.roles)
