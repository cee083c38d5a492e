"""The signing keys of every token moorage issues: Ed25519, stored in the metadata store, rotated.

The newest key signs; every key whose `verifies_until` has not passed verifies, so tokens signed
just before a rotation stay valid until they expire. Keys live in the metadata store, so every node
signs and verifies with the same set; a node that meets an unknown `kid` reloads the set (at most
once per second), which is how a key rotated on another node becomes known without a restart.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from moorage.metadata import signing_keys
from moorage.metadata.common import now
from moorage.metadata.database import Database
from moorage.metadata.signing_keys import SigningKeyRow

ALGORITHM = "EdDSA"
"""The only algorithm accepted: `none`, HS256 and every other `alg` a token names are refused."""

_RELOAD_INTERVAL = 1.0


class InvalidToken(Exception):
    """A token that must not be trusted; the message says why (safe to show the client)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def thumbprint(key: Ed25519PublicKey) -> str:
    """The key's RFC 7638 JWK thumbprint, used as its `kid`."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": _b64(_raw_public(key))}, separators=(",", ":"))
    return _b64(hashlib.sha256(canonical.encode()).digest())


class KeyRing:
    """Signs and verifies JWTs with the keys in the metadata store."""

    def __init__(
        self, database: Database, rotation: timedelta, verify_margin: timedelta, clock: Callable[[], datetime] = now
    ) -> None:
        self.database = database
        self.rotation = rotation
        self.verify_margin = verify_margin
        """How long a key verifies after it stopped signing: the longest lifetime of a token it signed."""
        self.clock = clock
        self._lock = threading.Lock()
        self._public: dict[str, Ed25519PublicKey] = {}
        self._rows: list[SigningKeyRow] = []
        self._signer: tuple[str, Ed25519PrivateKey, datetime] | None = None
        self._loaded_at = -_RELOAD_INTERVAL

    # --- loading and rotation ------------------------------------------------------------------

    def _load(self) -> None:
        with self.database.read() as connection:
            rows = signing_keys.usable_keys(connection, self.clock())
        self._apply(rows)

    def _apply(self, rows: list[SigningKeyRow]) -> None:
        self._rows = rows
        self._public = {
            row.kid: serialization.load_pem_public_key(row.public_pem.encode())  # type: ignore[misc]
            for row in rows
        }
        current = self.clock()
        signer = next((row for row in rows if row.signs_until > current), None)
        if signer is None:
            self._signer = None
        else:
            private = serialization.load_pem_private_key(signer.private_pem.encode(), password=None)
            assert isinstance(private, Ed25519PrivateKey)
            self._signer = (signer.kid, private, signer.signs_until)
        self._loaded_at = time.monotonic()

    def _create(self, connection_rows_retire: bool = False) -> None:
        private = Ed25519PrivateKey.generate()
        public = private.public_key()
        created = self.clock()
        row = SigningKeyRow(
            kid=thumbprint(public),
            algorithm=ALGORITHM,
            private_pem=private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode(),
            public_pem=public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode(),
            created_at=created,
            signs_until=created + self.rotation,
            verifies_until=created + self.rotation + self.verify_margin,
        )
        with self.database.write() as connection:
            if connection_rows_retire:
                signing_keys.retire_signing(connection, created, self.verify_margin)
            signing_keys.delete_expired_keys(connection, created)
            signing_keys.insert_key(connection, row)
            rows = signing_keys.usable_keys(connection, created)
        self._apply(rows)

    def ensure_signing_key(self) -> None:
        """Create a key when none may sign (first start, or the newest one's signing period passed)."""
        with self._lock:
            self._load()
            if self._signer is None:
                self._create()

    def rotate(self) -> str:
        """Start signing with a new key now; older keys keep verifying what they signed. Returns the new kid."""
        with self._lock:
            self._create(connection_rows_retire=True)
            assert self._signer is not None
            return self._signer[0]

    # --- signing and verifying -----------------------------------------------------------------

    def sign(self, claims: dict[str, Any]) -> str:
        signer = self._signer
        if signer is None or signer[2] <= self.clock():
            self.ensure_signing_key()
            signer = self._signer
            assert signer is not None
        kid, private, _ = signer
        return jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": kid, "typ": "JWT"})

    def public_key(self, kid: str) -> Ed25519PublicKey | None:
        key = self._public.get(kid)
        if key is None and time.monotonic() - self._loaded_at >= _RELOAD_INTERVAL:
            with self._lock:
                self._load()
            key = self._public.get(kid)
        return key

    def decode(self, token: str, audience: str, issuer: str, leeway: float) -> dict[str, Any]:
        """The verified claims of a token, or `InvalidToken` saying what is wrong with it."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed token") from None
        if header.get("alg") != ALGORITHM:
            raise InvalidToken(f"token algorithm {header.get('alg')!r} is not accepted")
        kid = header.get("kid")
        key = self.public_key(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidToken("token signed by an unknown key")
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=issuer,
                leeway=leeway,
                options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("token not yet valid") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("token issued for another service") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("token issued by another issuer") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("token signature is invalid") from None
        except jwt.PyJWTError as error:
            raise InvalidToken(f"invalid token: {error}") from None

    def jwks(self) -> dict[str, Any]:
        """The public keys that currently verify, as a JSON Web Key Set."""
        if time.monotonic() - self._loaded_at >= _RELOAD_INTERVAL:
            with self._lock:
                self._load()
        keys = []
        for kid, key in self._public.items():
            keys.append(
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": _b64(_raw_public(key)),
                    "kid": kid,
                    "alg": ALGORITHM,
                    "use": "sig",
                }
            )
        return {"keys": keys}
