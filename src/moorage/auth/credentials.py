"""Turning a username and secret into a `Principal`: one verifier per kind of credential.

`docker login`, `podman login` and HTTP Basic on `/token` all send a username and a secret; the
secret may be a password, a personal access token, a robot secret, a short-lived login password,
or an OIDC ID token (registered by the OIDC module). A `CredentialChain` asks each verifier in
order; the first that recognises the credential decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from moorage.auth.grants import Principal


class CredentialRefused(Exception):
    """A genuine credential that may no longer be used: the client is told why, not just "denied"."""

    title = "Credential refused"
    reason = "refused"
    """A word for the audit log's failed-login entry."""


class CredentialExpired(CredentialRefused):
    """The credential was genuine but has expired: the client must be told so, not just "denied"."""

    title = "Credential expired"
    reason = "expired"

    def __init__(self, kind: str, expired_at: datetime | None = None) -> None:
        when = f" at {expired_at.isoformat(timespec='seconds')}" if expired_at else ""
        super().__init__(f"the {kind} expired{when}; get a new one")
        self.kind = kind
        self.expired_at = expired_at


class CredentialRevoked(CredentialRefused):
    """The credential was genuine but has been revoked (or what it was made from has)."""

    title = "Credential revoked"
    reason = "revoked"


class CredentialVerifier(Protocol):
    """Checks one kind of credential.

    Contract: return the `Principal` when `secret` is a valid credential of this kind for
    `username`; return None when the secret is not of this kind or is wrong (never say which:
    the caller answers "invalid credentials" either way); raise `CredentialExpired` when it is
    genuine but expired, `CredentialRevoked` when it is genuine but revoked. `source_address`
    is the client's address (for audit, rate limits and rules that restrict addresses); it may
    be None. Must not log the secret. May read and write
    the metadata store (e.g. `last_used_at`), so it is called off the event loop.
    """

    def verify(self, username: str, secret: str, source_address: str | None) -> Principal | None: ...


class CredentialChain:
    """Asks each verifier in order; the first that accepts the credential wins.

    If none accepts it but one recognised it as expired or revoked, that refusal is raised, so an
    expired login password is reported as expired even if a later verifier merely says "not mine".
    """

    def __init__(self, verifiers: Sequence[CredentialVerifier] = ()) -> None:
        self.verifiers: list[CredentialVerifier] = list(verifiers)

    def add(self, verifier: CredentialVerifier) -> None:
        """Register another verifier (e.g. OIDC federation), tried after the built-in ones."""
        self.verifiers.append(verifier)

    def verify(self, username: str, secret: str, source_address: str | None) -> Principal | None:
        expired: CredentialRefused | None = None
        for verifier in self.verifiers:
            try:
                principal = verifier.verify(username, secret, source_address)
            except CredentialRefused as error:
                expired = expired or error
                continue
            if principal is not None:
                return principal
        if expired is not None:
            raise expired
        return None

    def rate_limit_subject(self, username: str, secret: str) -> str:
        """What a failed login with this secret counts against besides the source address.

        A verifier may name another subject (`rate_limit_subject`), e.g. OIDC: an ID token's
        issuer and subject rather than the username `oidc` that every CI job shares; "" means the
        source address alone. Otherwise: the username.
        """
        for verifier in self.verifiers:
            subject = getattr(verifier, "rate_limit_subject", None)
            if subject is not None:
                named: str | None = subject(username, secret)
                if named is not None:
                    return named
        return f"user:{username}"
