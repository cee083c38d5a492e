"""Encryption of secrets kept in the metadata store (signing keys; later upstream credentials).

A database dump, a backup or a stolen `metadata.db` must not hand out the registry's signing
keys: they are stored as Fernet tokens (AES-128-CBC + HMAC-SHA256, from `cryptography`) under a
key that is not in the database (the `secret_key` setting, or the key file). Any string of at
least 32 characters is a secret key: HKDF-SHA256 turns it into the Fernet key. Earlier keys
(`previous_secret_keys`) still decrypt, so a key can be rotated: start-up re-encrypts every
stored secret with the current key (`reencrypt`).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_SECRET_KEY_LENGTH = 32
_INFO = b"moorage secret box v1"


class UndecryptableSecret(Exception):
    """A stored secret that none of the configured secret keys decrypts (wrong or lost key)."""


def _fernet(secret_key: str) -> Fernet:
    if len(secret_key) < MIN_SECRET_KEY_LENGTH:
        raise ValueError(f"a secret key must have at least {MIN_SECRET_KEY_LENGTH} characters")
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


class SecretBox:
    """Encrypts with the current secret key; decrypts with it or any previous one."""

    def __init__(self, current: str, previous: Sequence[str] = ()) -> None:
        self._current = _fernet(current)
        self._all = MultiFernet([self._current, *(_fernet(key) for key in previous)])

    def encrypt(self, data: bytes) -> str:
        return self._current.encrypt(data).decode("ascii")

    def decrypt(self, token: str) -> bytes:
        try:
            return self._all.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise UndecryptableSecret("no configured secret key decrypts this secret") from None

    def is_current(self, token: str) -> bool:
        """Whether the current key alone decrypts it (no re-encryption needed)."""
        try:
            self._current.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            return False
        return True

    def reencrypt(self, token: str) -> str:
        """The same secret encrypted with the current key."""
        return self.encrypt(self.decrypt(token))
