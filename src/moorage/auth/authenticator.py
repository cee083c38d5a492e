"""Logging in: rate limit, then the credential chain; and re-checking a principal later.

Used by `/token` and by the management API, so both count failures against the same limits.
"""

from __future__ import annotations

from collections.abc import Callable

from moorage.auth.access_tokens import AccessTokens
from moorage.auth.accounts import Accounts
from moorage.auth.credentials import CredentialChain, CredentialRefused, CredentialRevoked
from moorage.auth.grants import Principal
from moorage.auth.ratelimit import LoginRateLimiter, TooManyAttempts
from moorage.auth.robots import Robots


class InvalidCredentials(Exception):
    """Unknown user, wrong secret, revoked token: deliberately not told apart."""

    def __str__(self) -> str:
        return "invalid username or password"


class PrincipalStatus:
    """Whether the account behind a signed credential (login password, refresh token) may still act.

    A signed credential has no row to delete, so it is checked against what it was made from each
    time it is used: the user (exists, not disabled, same credential generation), the access token
    (not revoked, not expired), the robot, or the OIDC credential. A refusal says which of these
    ended it (`CredentialExpired`, `CredentialRevoked`), so the client is not told "invalid
    username or password" about a credential that is genuine.
    """

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

    def generation(self, principal: Principal) -> int | None:
        """The generation a new signed credential carries: its user's, or its robot's secret's."""
        if principal.actor.kind in ("user", "token"):
            return self.accounts.credential_generation(principal.actor.name)
        if principal.actor.kind == "robot":
            return self.robots.secret_generation(principal.actor.name)
        return None

    def check(self, principal: Principal, generation: int | None, kind: str) -> None:
        """Raise `CredentialRevoked` or `CredentialExpired` unless the principal may still act.

        `generation` is the one the credential was issued under; `kind` names it in messages.
        """
        actor = principal.actor
        if actor.kind == "token":
            self.access_tokens.check_source(actor.credential or "", kind)
        if actor.kind in ("user", "token"):
            self.accounts.check_session(actor.name, generation or 0, kind)
        elif actor.kind == "robot":
            self.robots.check_source(actor.name, kind, generation)
        elif actor.kind == "oidc" and not (self.federated is not None and self.federated(principal)):
            # A credential derived from an OIDC identity must not outlive it (nor the issuer's trust).
            raise CredentialRevoked(
                f"the OIDC credential this {kind} was made from has expired or its issuer is no longer trusted"
            )


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
        """The principal, or `TooManyAttempts`, `CredentialRefused` (expired, revoked) or `InvalidCredentials`."""
        subject = self.chain.rate_limit_subject(username, secret)
        try:
            self.limiter.check(subject, source_address)
            principal = self.chain.verify(username, secret, source_address)
        except TooManyAttempts:
            self._failed(username, source_address, "rate limited")
            raise
        except CredentialRefused as error:
            self._failed(username, source_address, error.reason)
            raise
        if principal is None:
            self.limiter.record_failure(subject, source_address)
            self._failed(username, source_address, "invalid credentials")
            raise InvalidCredentials()
        return principal

    def _failed(self, username: str, source_address: str | None, reason: str) -> None:
        if self.on_failure is not None:
            self.on_failure(username, source_address, reason)
