"""Personal access tokens (like GHCR's PATs): named, scoped, expiring, shown once, revocable.

A token is `moorage_pat_<id>_<secret>`: the id finds the row without scanning, only the SHA-256 of
the whole value is stored. A token acts as its owner, narrowed to its grants: it never does more
than the owner may do now (`bounded_by_roles`).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from moorage.auth.credentials import CredentialExpired, CredentialRevoked
from moorage.auth.grants import Grant, Principal, grants_from_json, grants_to_json
from moorage.auth.lifetimes import LifetimeCap
from moorage.auth.passwords import CREDENTIAL_PREFIX
from moorage.auth.secret_values import matches, secret_hash
from moorage.domain.access import Actor
from moorage.metadata import accounts, credentials
from moorage.metadata.common import now
from moorage.metadata.credentials import AccessTokenRow
from moorage.metadata.database import Database

_PREFIX = f"{CREDENTIAL_PREFIX}pat_"
_FORMAT = re.compile(rf"^{_PREFIX}(?P<id>[0-9a-f]{{16}})_[\w-]{{43}}$")


class NotFound(LookupError):
    """No such user or token."""


class Conflict(ValueError):
    """The name is taken."""


@dataclass(frozen=True)
class AccessToken:
    """What may be shown about a token (never its secret)."""

    id: str
    owner: str
    name: str
    grants: tuple[Grant, ...]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, row: AccessTokenRow) -> AccessToken:
        return cls(
            row.id,
            row.user_name,
            row.name,
            grants_from_json(row.grants),
            row.created_at,
            row.expires_at,
            row.revoked_at,
            row.last_used_at,
        )


class AccessTokens:
    """Creating, listing and revoking a user's tokens; verifying them at login."""

    def __init__(self, database: Database, cap: LifetimeCap | None = None) -> None:
        self.database = database
        self.cap = cap
        """The admin's cap on token lifetimes (`access_token_max_days`); None: uncapped."""

    def create(
        self, owner: str, name: str, grants: tuple[Grant, ...], expires_at: datetime | None
    ) -> tuple[AccessToken, str]:
        """The new token and its secret (shown once; only its hash is kept); `LifetimeRefused` beyond the cap."""
        if self.cap is not None:
            self.cap.check(expires_at)
        token_id = secrets.token_hex(8)
        secret = f"{_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        with self.database.write() as connection:
            user = accounts.find_user(connection, owner)
            if user is None:
                raise NotFound(f"no user {owner!r}")
            if any(row.name == name for row in credentials.list_tokens(connection, user.id)):
                raise Conflict(f"{owner} already has a token named {name!r}")
            credentials.insert_token(
                connection,
                id=token_id,
                user_id=user.id,
                name=name,
                secret_hash=secret_hash(secret),
                grants=grants_to_json(grants),
                expires_at=expires_at,
            )
            row = credentials.find_token(connection, token_id)
        assert row is not None
        return AccessToken.of(row), secret

    def list(self, owner: str) -> list[AccessToken]:
        with self.database.read() as connection:
            user = accounts.find_user(connection, owner)
            if user is None:
                raise NotFound(f"no user {owner!r}")
            return [AccessToken.of(row) for row in credentials.list_tokens(connection, user.id)]

    def revoke(self, owner: str, token_id: str) -> None:
        with self.database.write() as connection:
            user = accounts.find_user(connection, owner)
            if user is None or not credentials.revoke_token(connection, user.id, token_id):
                raise NotFound(f"no active token {token_id!r} of {owner!r}")

    def check_source(self, token_id: str, kind: str) -> None:
        """Raise unless the token a `kind` (login password, refresh token) was made from is still usable."""
        with self.database.read() as connection:
            row = credentials.find_token(connection, token_id)
        if row is None:
            raise CredentialRevoked(f"the access token this {kind} was made from no longer exists")
        if row.revoked_at is not None:
            when = row.revoked_at.isoformat(timespec="seconds")
            raise CredentialRevoked(f"the access token {row.name!r} this {kind} was made from was revoked at {when}")
        if _expired(row):
            raise CredentialExpired(f"access token {row.name!r} this {kind} was made from", row.expires_at)

    def grants_of(self, token_id: str) -> tuple[Grant, ...]:
        """The grants of a usable token; none for a revoked or expired one."""
        with self.database.read() as connection:
            row = credentials.find_token(connection, token_id)
        if row is None or row.revoked_at is not None or _expired(row):
            return ()
        return grants_from_json(row.grants)

    def verify(self, username: str, secret: str, source_address: str | None) -> Principal | None:
        match = _FORMAT.match(secret)
        if match is None:
            return None
        with self.database.read() as connection:
            row = credentials.find_token(connection, match["id"])
            user = accounts.find_user(connection, row.user_name) if row else None
        if row is None or user is None or not matches(secret, row.secret_hash) or user.disabled:
            return None
        if row.user_name != username or row.revoked_at is not None:
            return None
        if _expired(row):
            raise CredentialExpired(f"access token {row.name!r}", row.expires_at)
        with self.database.write() as connection:
            credentials.touch_token(connection, row.id)
        actor = Actor("token", row.user_name, row.id, source_address)
        return Principal(actor, grants_from_json(row.grants), bounded_by_roles=True, expires_at=row.expires_at)


def _expired(row: AccessTokenRow) -> bool:
    return row.expires_at is not None and row.expires_at <= now()
