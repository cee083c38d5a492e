"""User passwords: argon2id hashes (argon2-cffi), and the verifier for `docker login` with a password."""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import threading
import time

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

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
"""argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): a guess costs an attacker
the same memory-hard work, and a login stays in tens of milliseconds on a small server."""

_RECENT_TTL = 300.0
_RECENT_SIZE = 4096


@functools.cache
def _dummy_hash() -> str:
    """A hash to check unknown users against, so they cost the same time as known ones."""
    return _hasher.hash("moorage-timing-equaliser")


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
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class PasswordVerifier:
    """Accepts a user's name and password; a disabled user is refused like a wrong password.

    Clients log in again for every repository they touch (each token request carries the
    password), so a successful check is remembered for five minutes in this process: as an HMAC
    of name and password under a random per-process key, together with the stored hash it was
    checked against. A remembered login still reads the user's row, so a changed password, a
    disabled or deleted user takes effect at once; only the argon2 work is skipped.
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self._key = secrets.token_bytes(32)
        self._recent: dict[bytes, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def verify(self, username: str, secret: str, source_address: str | None) -> Principal | None:
        if looks_like_token(secret):
            return None
        with self.database.read() as connection:
            user = accounts.find_user(connection, username)
        if user is None or user.disabled or user.password_hash is None:
            check_password(None, secret)  # the same work as for a real user
            return None
        fingerprint = hmac.new(self._key, f"{username}\0{secret}".encode(), hashlib.sha256).digest()
        remembered = self._recent.get(fingerprint)
        now = time.monotonic()
        if not (remembered and remembered[0] == user.password_hash and remembered[1] > now):
            if not check_password(user.password_hash, secret):
                return None
            with self._lock:
                if len(self._recent) >= _RECENT_SIZE:
                    self._recent.clear()
                self._recent[fingerprint] = (user.password_hash, now + _RECENT_TTL)
        return Principal(Actor("user", user.name, None, source_address), None)
