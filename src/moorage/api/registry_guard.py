"""Token enforcement for `/v2/`: an ASGI wrapper around the registry API.

Every request must carry a bearer token from `/token` whose signature, `exp`/`nbf`/`iat` (with a
small skew), `aud` and `iss` verify, and whose `access` list grants the action the route needs on
that repository. Otherwise the answer is `UNAUTHORIZED` with the challenge that tells the client
where to get a token and for which scope (no token, a bad one, or an anonymous caller), or `DENIED`
for an authenticated caller (with the challenge when a token for another scope would do). The
registry services never see authentication: the guard only sets `moorage.actor`, `moorage.readable`
(which repositories the caller may pull, for a mount's source) and, for the catalog,
`moorage.repository_filter` in the ASGI scope.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from moorage.api.auth_http import bearer_token, client_address, header
from moorage.api.errors import error_response
from moorage.auth.grants import Principal, allowed_actions
from moorage.auth.keys import InvalidToken
from moorage.auth.roles import FixedRoles, StoredRoles
from moorage.auth.tokens import RegistryTokens, VerifiedToken
from moorage.domain.access import Action, Actor
from moorage.domain.errors import ErrorCode, RegistryError

_REPOSITORY_ROUTE = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>blobs/uploads|blobs|manifests|tags|referrers)(?:/.*)?$")


@dataclass(frozen=True)
class Need:
    """What a request needs: a valid token only (`name` None), or an action on a repository."""

    name: str | None = None
    action: Action | None = None
    catalog: bool = False


def need_of(method: str, path: str) -> Need:
    if path == "/v2/_catalog":
        return Need(catalog=True)
    match = _REPOSITORY_ROUTE.match(path)
    if match is None:
        return Need()
    kind, name = match["kind"], match["name"]
    if kind == "blobs/uploads":
        return Need(name, Action.PUSH)
    if method in ("GET", "HEAD"):
        return Need(name, Action.PULL)
    if method == "DELETE":
        return Need(name, Action.DELETE)
    return Need(name, Action.PUSH)


class RegistryGuard:
    def __init__(
        self, app: ASGIApp, tokens: RegistryTokens, roles: StoredRoles, service: str, external_url: str | None
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.roles = roles
        self.service = service
        self.external_url = external_url.rstrip("/") if external_url else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        raw = scope.get("raw_path")
        path = bytes(raw).split(b"?", 1)[0].decode("latin-1") if raw else str(scope["path"])
        need = need_of(method, path)
        try:
            verified = self._verify(scope, need)
            principal = verified.principal
            name, action = need.name, need.action
            if name is not None and action is not None and not verified.allows("repository", name, action.value):
                await self._refuse(scope, principal, need)
            if need.catalog:
                lookup = FixedRoles(self.roles)
                scope["moorage.repository_filter"] = lambda name: (
                    Action.PULL in allowed_actions(principal, name, lookup)
                )
        except RegistryError as error:
            await error_response(error, method)(scope, receive, send)
            return
        actor = principal.actor
        scope["moorage.actor"] = Actor(actor.kind, actor.name, actor.credential, client_address(scope))
        scope["moorage.principal"] = principal
        scope["moorage.readable"] = self._readable(verified)
        await self.app(scope, receive, send)

    def _verify(self, scope: Scope, need: Need) -> VerifiedToken:
        token = bearer_token(header(scope, b"authorization"))
        if token is None:
            raise self._challenge(scope, need, None, "authentication required")
        try:
            return self.tokens.verify(token)
        except InvalidToken as error:
            raise self._challenge(scope, need, "invalid_token", str(error)) from None

    async def _refuse(self, scope: Scope, principal: Principal, need: Need) -> None:
        """Anonymous: 401, log in. Authenticated: 403 `DENIED`, with a challenge if a new token would do.

        The challenge on a 403 (RFC 6750's `insufficient_scope`) tells a client whose token was
        issued for other scopes to fetch one for this scope: oras-py fetches a new token only on 403.
        """
        assert need.name is not None and need.action is not None
        if principal.actor.kind == "anonymous":
            raise self._challenge(scope, need, "insufficient_scope", "authentication required")
        name, action = need.name, need.action
        allowed = await anyio.to_thread.run_sync(lambda: allowed_actions(principal, name, self.roles))
        detail = [{"Type": "repository", "Name": name, "Action": action.value}]
        if action not in allowed:
            message = f"{principal.actor.describe()} may not {action.value} {name}"
            raise RegistryError(ErrorCode.DENIED, message, detail=detail)
        challenge = self._challenge(scope, need, "insufficient_scope", "")
        message = f"the token does not grant {action.value} on {name}; request a token for this scope"
        raise RegistryError(ErrorCode.DENIED, message, detail=detail, headers=challenge.headers)

    def _challenge(self, scope: Scope, need: Need, error: str | None, message: str) -> RegistryError:
        parts = [f'realm="{self._realm(scope)}"', f'service="{self.service}"']
        detail = None
        if need.catalog:
            parts.append('scope="registry:catalog:*"')
        elif need.name is not None and need.action is not None:
            actions = "pull" if need.action is Action.PULL else f"pull,{need.action.value}"
            parts.append(f'scope="repository:{need.name}:{actions}"')
            detail = [{"Type": "repository", "Name": need.name, "Action": need.action.value}]
        if error:
            parts.append(f'error="{error}"')
        headers = {"WWW-Authenticate": "Bearer " + ",".join(parts)}
        return RegistryError(ErrorCode.UNAUTHORIZED, message, detail=detail, headers=headers)

    def _realm(self, scope: Scope) -> str:
        if self.external_url:
            return f"{self.external_url}/token"
        host = header(scope, b"host") or "localhost"
        return f"{scope.get('scheme', 'http')}://{host}/token"

    def _readable(self, verified: VerifiedToken) -> Callable[[str], bool]:
        """Whether the caller may pull a repository: the token's `access` list, or its subject's rights.

        A mount asks about repositories other than the one the token was issued for (without
        `from`, any repository holding the blob). The subject's rights are those of the credential
        the token was issued to: a user's roles, an access token's or robot's own grants (bounded
        by its owner's roles), plus public repositories, so a leaked push-only token reads nothing more.
        Evaluated lazily, in the service's worker thread; the role lookup is read once per request.
        """
        lookup = FixedRoles(self.roles)
        principal = verified.principal

        def may_pull(name: str) -> bool:
            if verified.allows("repository", name, Action.PULL.value):
                return True
            return Action.PULL in allowed_actions(principal, name, lookup)

        return may_pull
