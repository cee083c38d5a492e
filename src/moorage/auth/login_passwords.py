"""Short-lived login passwords (like `aws ecr get-login-password`) and refresh tokens.

Both are JWTs signed by the key ring with their own audience, so no table is needed and every
node accepts them. Each carries the principal it was issued to and a generation (`gen`: the
user's credential generation, or a robot's secret's); using one re-checks what it was made from (a
deleted or disabled user, a changed password or ended sessions, a revoked or expired access token,
a deleted robot or rotated robot secret stop it at once, not after 12 hours), and says which
(`CredentialRevoked`, `CredentialExpired`).
An expired login password raises `CredentialExpired` so the client is told it expired, the
classic cause of CI jobs failing hours after login.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Protocol

import jwt

from moorage.auth.credentials import CredentialExpired
from moorage.auth.grants import Principal
from moorage.auth.keys import InvalidToken, KeyRing
from moorage.auth.lifetimes import LifetimeRefused
from moorage.auth.oidc_tokens import peek
from moorage.auth.tokens import principal_claims, principal_from_claims
from moorage.metadata.common import now

LOGIN_AUDIENCE = "moorage-login"
REFRESH_AUDIENCE = "moorage-refresh"


class SourceStatus(Protocol):
    """What a signed credential was made from, and whether that may still act (`PrincipalStatus`)."""

    def generation(self, principal: Principal) -> int | None: ...

    def check(self, principal: Principal, generation: int | None, kind: str) -> None: ...


class SignedCredentials:
    """Issues and checks one kind of signed credential (one audience)."""

    def __init__(
        self,
        keys: KeyRing,
        issuer: str,
        audience: str,
        lifetime: timedelta,
        status: SourceStatus,
        max_lifetime: timedelta | None = None,
        max_setting: str = "",
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.max_lifetime = max_lifetime
        """The longest lifetime a caller may ask for (the admin's cap, `max_setting`); None: `lifetime`."""
        self.max_setting = max_setting
        self.lifetime = min(lifetime, max_lifetime) if max_lifetime is not None else lifetime
        self.status = status

    def issue(self, principal: Principal, lifetime: timedelta | None = None) -> tuple[str, datetime]:
        """The credential and when it expires; `LifetimeRefused` when `lifetime` exceeds the cap."""
        cap = self.max_lifetime or self.lifetime
        if lifetime is not None and lifetime > cap:
            hours = f"{cap.total_seconds() / 3600:g}"
            setting = f" ({self.max_setting})" if self.max_setting else ""
            raise LifetimeRefused(f"{self.kind}s may live at most {hours} hours{setting}; ask for less")
        issued = now()
        expires = issued + (lifetime or self.lifetime)
        generation = self.status.generation(principal)
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "iat": int(issued.timestamp()),
            "nbf": int(issued.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": secrets.token_urlsafe(12),
            **principal_claims(principal),
        }
        if generation is not None:
            claims["gen"] = generation
        return self.keys.sign(claims), expires

    def principal(self, token: str, source_address: str | None, username: str | None = None) -> Principal | None:
        """The principal of a genuine, unexpired credential of this audience; None if not ours
        (or not issued to `username`); `CredentialExpired`/`CredentialRevoked` if it may no longer act."""
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        if unverified.get("iss") != self.issuer or unverified.get("aud") != self.audience:
            return None
        try:
            claims = self.keys.decode(token, self.audience, self.issuer, leeway=0)
        except InvalidToken as error:
            if str(error) == "token expired":
                expired = unverified.get("exp")
                at = datetime.fromtimestamp(expired, UTC) if isinstance(expired, int) else None
                raise CredentialExpired(self.kind, at) from None
            return None
        principal = principal_from_claims(claims, source_address)
        if username is not None and principal.actor.name != username:
            return None
        generation = claims.get("gen")
        self.status.check(principal, generation if isinstance(generation, int) else None, self.kind)
        return principal

    @property
    def kind(self) -> str:
        return "login password" if self.audience == LOGIN_AUDIENCE else "refresh token"


class LoginPasswordVerifier:
    """Accepts a login password as the password of `docker login` for the user it was issued to."""

    def __init__(self, credentials: SignedCredentials) -> None:
        self.credentials = credentials

    def verify(self, username: str, secret: str, source_address: str | None) -> Principal | None:
        if secret.count(".") != 2:
            return None
        return self.credentials.principal(secret, source_address, username)

    def rate_limit_subject(self, username: str, secret: str) -> str | None:
        """A login password's failures count against the user it names (None: not one of ours)."""
        peeked = peek(secret)
        if peeked is not None and peeked[1].get("iss") == self.credentials.issuer:
            return f"user:{username}"
        return None
