"""Random credentials shown once and stored as SHA-256 (access tokens, robot secrets)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from moorage.auth.passwords import CREDENTIAL_PREFIX


def new_secret(kind: str) -> str:
    """`moorage_<kind>_<43 url-safe characters>`: 256 random bits, recognisable by secret scanners."""
    return f"{CREDENTIAL_PREFIX}{kind}_{secrets.token_urlsafe(32)}"


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(secret_hash(secret), stored_hash)
