"""Short-lived login passwords (like `aws ecr get-login-password`) and refresh tokens.

Both are JWTs signed by the key ring with their own audience, so no table is needed and every
node accepts them. Each carries the principal it was issued to; using one re-checks that the
principal still exists (a deleted user, revoked access token or deleted robot stops working at
once, not after 12 hours). An expired login password raises `CredentialExpired` so the client
is told it expired, the classic cause of CI jobs failing hours after login.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt

from moorage.auth.credentials import CredentialExpired
from moorage.auth.grants import Principal
from moorage.auth.keys import InvalidToken, KeyRing
from moorage.auth.tokens import principal_claims, principal_from_claims
from moorage.metadata.common import now

LOGIN_AUDIENCE = "moorage-login"
REFRESH_AUDIENCE = "moorage-refresh"

StillValid = Callable[[Principal], bool]


class SignedCredentials:
    """Issues and checks one kind of signed credential (one audience)."""

    def __init__(self, keys: KeyRing, issuer: str, audience: str, lifetime: timedelta, still_valid: StillValid) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.lifetime = lifetime
        self.still_valid = still_valid

    def issue(self, principal: Principal, lifetime: timedelta | None = None) -> tuple[str, datetime]:
        """The credential and when it expires."""
        issued = now()
        expires = issued + (lifetime or self.lifetime)
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "iat": int(issued.timestamp()),
            "nbf": int(issued.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": secrets.token_urlsafe(12),
            **principal_claims(principal),
        }
        return self.keys.sign(claims), expires

    def principal(self, token: str, source_address: str | None) -> Principal | None:
        """The principal of a genuine, unexpired credential of this audience; None if not ours."""
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
        return principal if self.still_valid(principal) else None

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
        principal = self.credentials.principal(secret, source_address)
        if principal is None or principal.actor.name != username:
            return None
        return principal
