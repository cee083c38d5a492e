"""User passwords: argon2id hashes (argon2-cffi), and the verifier for `docker login` with a password."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from moorage.auth.grants import Principal
from moorage.domain.access import Actor
from moorage.metadata import accounts
from moorage.metadata.database import Database

MIN_LENGTH = 8
CREDENTIAL_PREFIX = "moorage_"
"""Access tokens and robot secrets start with this; passwords may not, so the two never collide."""

_JWT = re.compile(r"^eyJ[\w-]*\.[\w-]*\.[\w-]*$")

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("moorage-timing-equaliser")


class WeakPassword(ValueError):
    """A password that may not be set."""


def looks_like_token(secret: str) -> bool:
    """Whether a secret is one of our credential formats or a JWT, never a password."""
    return secret.startswith(CREDENTIAL_PREFIX) or _JWT.match(secret) is not None


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if looks_like_token(password):
        raise WeakPassword(f"a password may not start with {CREDENTIAL_PREFIX!r} or look like a JWT")
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists (no user enumeration by timing)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class PasswordVerifier:
    """Accepts a user's name and password; a disabled user is refused like a wrong password."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def verify(self, username: str, secret: str, source_address: str | None) -> Principal | None:
        if looks_like_token(secret):
            return None
        with self.database.read() as connection:
            user = accounts.find_user(connection, username)
        if not check_password(user.password_hash if user else None, secret) or user is None or user.disabled:
            return None
        return Principal(Actor("user", user.name, None, source_address), None)
