"""Registry tokens: short-lived signed JWTs carrying the granted `access` list (Docker token spec).

Beyond the spec's claims, a token carries who it was issued to (`moorage` claim: kind, credential,
grants), so the `/v2/` edge can tell "ask for a token with more scope" (401) from "you may not" (403)
and filter the catalog without another credential check. Verified tokens are cached until they
expire: a client sends the same token on every request, and one dict lookup is cheaper than a
signature check.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from moorage.auth.grants import Principal, grants_from_json, grants_to_json
from moorage.auth.keys import InvalidToken, KeyRing
from moorage.auth.scopes import Scope, access_map
from moorage.domain.access import Actor
from moorage.metadata.common import now

_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int
    issued_at: str


@dataclass(frozen=True)
class VerifiedToken:
    principal: Principal
    access: dict[tuple[str, str], frozenset[str]]
    expires_at: float
    kid: str = ""
    """The key that signed it: a cached token stops verifying when that key is retired."""

    def allows(self, kind: str, name: str, action: str) -> bool:
        actions = self.access.get((kind, name), frozenset())
        return action in actions or "*" in actions


def principal_claims(principal: Principal) -> dict[str, Any]:
    actor = principal.actor
    claim: dict[str, Any] = {"kind": actor.kind, "credential": actor.credential}
    if principal.grants is not None:
        claim["grants"] = grants_to_json(principal.grants)
        claim["bounded"] = principal.bounded_by_roles
    return {"sub": actor.name, "moorage": claim}


def principal_from_claims(claims: dict[str, Any], source_address: str | None = None) -> Principal:
    claim = claims.get("moorage") or {}
    actor = Actor(str(claim.get("kind", "user")), str(claims["sub"]), claim.get("credential"), source_address)
    grants = claim.get("grants")
    return Principal(actor, None if grants is None else grants_from_json(grants), bool(claim.get("bounded", False)))


class RegistryTokens:
    """Issues and verifies the bearer tokens the `/v2/` API accepts."""

    def __init__(self, keys: KeyRing, issuer: str, service: str, lifetime: timedelta, leeway: float) -> None:
        self.keys = keys
        self.issuer = issuer
        self.service = service
        self.lifetime = lifetime
        self.leeway = leeway
        self._cache: OrderedDict[str, VerifiedToken] = OrderedDict()
        self._cache_lock = threading.Lock()

    def issue(self, principal: Principal, access: list[Scope]) -> IssuedToken:
        issued = now()
        moment = int(issued.timestamp())
        claims = {
            "iss": self.issuer,
            "aud": self.service,
            "iat": moment,
            "nbf": moment,
            "exp": moment + int(self.lifetime.total_seconds()),
            "jti": secrets.token_urlsafe(12),
            "access": [scope.claim() for scope in access],
            **principal_claims(principal),
        }
        token = self.keys.sign(claims)
        return IssuedToken(token, int(self.lifetime.total_seconds()), issued.isoformat(timespec="seconds"))

    def verify(self, token: str) -> VerifiedToken:
        """The token's grants, or `InvalidToken`; a cached token is re-checked for expiry and its key."""
        current = time.time()
        cached = self._cache.get(token)
        if cached is not None:
            expired = cached.expires_at + self.leeway <= current
            if not expired and self.keys.verifies(cached.kid):
                return cached
            with self._cache_lock:
                self._cache.pop(token, None)
            raise InvalidToken("token expired" if expired else "token signed by a retired key")
        claims, kid = self.keys.decode_with_kid(token, self.service, self.issuer, self.leeway)
        access = claims.get("access")
        if not isinstance(access, list):
            raise InvalidToken("token carries no access list")
        verified = VerifiedToken(principal_from_claims(claims), access_map(access), float(claims["exp"]), kid)
        with self._cache_lock:
            self._cache[token] = verified
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return verified
