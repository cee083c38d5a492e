"""The token server's use case: narrow the requested scopes to what the caller may do, sign.

Asking for more than allowed is not an error: the token simply carries the intersection (Docker
token spec), and the `/v2/` request that needs the missing action is then refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moorage.auth.authenticator import Authenticator, InvalidCredentials
from moorage.auth.grants import Principal, allowed_actions
from moorage.auth.login_passwords import SignedCredentials
from moorage.auth.roles import FixedRoles, StoredRoles
from moorage.auth.scopes import Scope, requested_actions
from moorage.auth.tokens import RegistryTokens
from moorage.domain.access import ANONYMOUS, Actor
from moorage.domain.errors import RegistryError
from moorage.domain.references import validate_name


@dataclass(frozen=True)
class TokenServer:
    authenticator: Authenticator
    roles: StoredRoles
    tokens: RegistryTokens
    refresh_tokens: SignedCredentials
    login_passwords: SignedCredentials

    def anonymous(self, source_address: str | None) -> Principal:
        return Principal(Actor(ANONYMOUS.kind, ANONYMOUS.name, None, source_address), None)

    def grant(self, principal: Principal, scopes: list[Scope]) -> list[Scope]:
        """Each requested scope narrowed to what the principal may do (empty action lists kept)."""
        lookup = FixedRoles(self.roles)
        granted: list[Scope] = []
        for scope in scopes:
            if scope.type == "repository":
                try:
                    validate_name(scope.name)
                except RegistryError:
                    continue
                allowed = allowed_actions(principal, scope.name, lookup)
                actions = frozenset(a.value for a in requested_actions(scope) & allowed)
                granted.append(Scope("repository", scope.name, actions))
            elif scope.type == "registry" and scope.name == "catalog":
                granted.append(Scope("registry", "catalog", frozenset({"*"}) & scope.actions))
        return granted

    def issue(
        self, principal: Principal, scopes: list[Scope], offline: bool, refresh_token: str | None = None
    ) -> dict[str, Any]:
        """The token response body: `token`, `access_token`, `expires_in`, `issued_at` (+ `refresh_token`)."""
        issued = self.tokens.issue(principal, self.grant(principal, scopes))
        body: dict[str, Any] = {
            "token": issued.token,
            "access_token": issued.token,
            "expires_in": issued.expires_in,
            "issued_at": issued.issued_at,
        }
        if refresh_token is not None:
            body["refresh_token"] = refresh_token
        elif offline and principal.actor.kind not in ("anonymous", "oidc"):
            # OIDC credentials are short-lived by design; a refresh token would outlive them.
            body["refresh_token"] = self.refresh_tokens.issue(principal)[0]
        return body

    def from_refresh_token(self, refresh_token: str, source_address: str | None) -> Principal:
        principal = self.refresh_tokens.principal(refresh_token, source_address)
        if principal is None:
            raise InvalidCredentials()
        return principal
