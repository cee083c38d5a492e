"""Logging in: rate limit, then the credential chain; and re-checking a principal later.

Used by `/token` and by the management API, so both count failures against the same limits.
"""

from __future__ import annotations

from collections.abc import Callable

from moorage.auth.access_tokens import AccessTokens
from moorage.auth.accounts import Accounts
from moorage.auth.credentials import CredentialChain, CredentialExpired
from moorage.auth.grants import Principal
from moorage.auth.ratelimit import LoginRateLimiter, TooManyAttempts
from moorage.auth.robots import Robots


class InvalidCredentials(Exception):
    """Unknown user, wrong secret, revoked token: deliberately not told apart."""

    def __str__(self) -> str:
        return "invalid username or password"


class PrincipalStatus:
    """Whether the account behind a principal still exists and may act (for signed credentials)."""

    def __init__(
        self,
        accounts: Accounts,
        access_tokens: AccessTokens,
        robots: Robots,
        federated: Callable[[Principal], bool] | None = None,
    ) -> None:
        self.accounts = accounts
        self.access_tokens = access_tokens
        self.robots = robots
        self.federated = federated
        """Whether an OIDC principal may still act (OidcFederation.still_valid); without it, never."""

    def __call__(self, principal: Principal) -> bool:
        actor = principal.actor
        if actor.kind == "user":
            return self.accounts.user_is_usable(actor.name)
        if actor.kind == "token":
            return actor.credential is not None and self.access_tokens.still_valid(actor.credential)
        if actor.kind == "robot":
            return self.robots.still_valid(actor.name)
        if actor.kind == "oidc":
            # A credential derived from an OIDC identity must not outlive it (nor the issuer's trust).
            return self.federated is not None and self.federated(principal)
        return True


LoginFailed = Callable[[str, str | None, str], None]
"""Told of every refused login: (user name tried, source address, reason) — never the secret."""


class Authenticator:
    def __init__(
        self, chain: CredentialChain, limiter: LoginRateLimiter, on_failure: LoginFailed | None = None
    ) -> None:
        self.chain = chain
        self.limiter = limiter
        self.on_failure = on_failure

    def authenticate(self, username: str, secret: str, source_address: str | None) -> Principal:
        """The principal, or `TooManyAttempts`, `CredentialExpired` or `InvalidCredentials`."""
        try:
            self.limiter.check(username, source_address)
            principal = self.chain.verify(username, secret, source_address)
        except TooManyAttempts:
            self._failed(username, source_address, "rate limited")
            raise
        except CredentialExpired:
            self._failed(username, source_address, "expired")
            raise
        if principal is None:
            self.limiter.record_failure(username, source_address)
            self._failed(username, source_address, "invalid credentials")
            raise InvalidCredentials()
        return principal

    def _failed(self, username: str, source_address: str | None, reason: str) -> None:
        if self.on_failure is not None:
            self.on_failure(username, source_address, reason)
