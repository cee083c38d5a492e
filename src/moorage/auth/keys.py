"""The signing keys of every token moorage issues: Ed25519, stored in the metadata store, rotated.

The newest key signs; every key whose `verifies_until` has not passed and that was not retired
verifies, so tokens signed just before a rotation stay valid until they expire. Keys live in the
metadata store, so every node signs and verifies with the same set; private keys are stored
encrypted with the secret box (auth/secret_box.py), never in plaintext. Each process reloads the
set when it was loaded more than `RELOAD_INTERVAL` ago (one indexed read), which is how a key
rotated or retired on another node takes effect there without a restart.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from moorage.auth.secret_box import SecretBox, UndecryptableSecret
from moorage.metadata import signing_keys
from moorage.metadata.common import now
from moorage.metadata.database import Database
from moorage.metadata.signing_keys import SigningKeyRow

ALGORITHM = "EdDSA"
"""The only algorithm accepted: `none`, HS256 and every other `alg` a token names are refused."""

RELOAD_INTERVAL = 1.0
"""Seconds a process trusts its loaded key set: a key retired elsewhere stops verifying after this."""


class InvalidToken(Exception):
    """A token that must not be trusted; the message says why (safe to show the client)."""


class UnknownKey(LookupError):
    """No stored signing key has this kid."""


class SealedKeyUnreadable(Exception):
    """A stored private key that the configured secret keys do not decrypt; the message says what to do."""


KeyState = Literal["signing", "verifying", "retired"]


@dataclass(frozen=True)
class SigningKeyInfo:
    """What an administrator sees of a signing key (never its private part)."""

    kid: str
    algorithm: str
    created_at: datetime
    signs_until: datetime
    verifies_until: datetime
    state: KeyState


def _describe(rows: list[SigningKeyRow], at: datetime) -> list[SigningKeyInfo]:
    signer = next((row.kid for row in rows if row.retired_at is None and row.signs_until > at), None)

    def state(row: SigningKeyRow) -> KeyState:
        if row.retired_at is not None or row.verifies_until <= at:
            return "retired"
        return "signing" if row.kid == signer else "verifying"

    return [
        SigningKeyInfo(row.kid, row.algorithm, row.created_at, row.signs_until, row.verifies_until, state(row))
        for row in rows
    ]


def _unreadable(kid: str) -> SealedKeyUnreadable:
    return SealedKeyUnreadable(
        f"signing key {kid} is encrypted with a secret key this server does not have: set secret_key "
        "(or secret_key_file) to the key it was encrypted with, or list that key in previous_secret_keys"
    )


def seal_stored_keys(database: Database, box: SecretBox) -> tuple[int, int]:
    """Encrypt plaintext private keys (databases before revision 0005) and re-encrypt those under an
    earlier secret key with the current one. Returns (sealed, re-encrypted); run at start-up."""
    sealed = reencrypted = 0
    with database.write() as connection:
        for row in signing_keys.all_keys(connection):
            if row.private_pem is not None:
                encrypted = box.encrypt(row.private_pem.encode())
                sealed += 1
            elif row.private_key_encrypted is not None and not box.is_current(row.private_key_encrypted):
                try:
                    encrypted = box.reencrypt(row.private_key_encrypted)
                except UndecryptableSecret:
                    raise _unreadable(row.kid) from None
                reencrypted += 1
            else:
                continue
            signing_keys.store_encrypted_private_key(connection, row.kid, encrypted)
    if (sealed or reencrypted) and database.is_sqlite:  # no freed page may keep the old bytes
        with database.read() as connection:
            signing_keys.scrub_freed_space(connection)
    return sealed, reencrypted


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def thumbprint(key: Ed25519PublicKey) -> str:
    """The key's RFC 7638 JWK thumbprint (base64url)."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": _b64(_raw_public(key))}, separators=(",", ":"))
    return _b64(hashlib.sha256(canonical.encode()).digest())


def key_id(key: Ed25519PublicKey) -> str:
    """The `kid` of a new key: its thumbprint, after a `k` when the thumbprint starts with `-`.

    An admin types a kid on the command line (`moorage keys retire KID`), where a leading `-` reads
    as an option: one thumbprint in 64 starts with it. Keys made before keep their kid (`--` passes it).
    """
    printed = thumbprint(key)
    return f"k{printed}" if printed.startswith("-") else printed


class KeyRing:
    """Signs and verifies JWTs with the keys in the metadata store."""

    def __init__(
        self,
        database: Database,
        rotation: timedelta,
        verify_margin: timedelta,
        box: SecretBox,
        clock: Callable[[], datetime] = now,
    ) -> None:
        self.database = database
        self.box = box
        self.rotation = rotation
        self.verify_margin = verify_margin
        """How long a key verifies after it stopped signing: the longest lifetime of a token it signed."""
        self.clock = clock
        self._lock = threading.Lock()
        self._public: dict[str, Ed25519PublicKey] = {}
        self._rows: list[SigningKeyRow] = []
        self._signer: tuple[str, Ed25519PrivateKey, datetime] | None = None
        self._loaded_at = -RELOAD_INTERVAL

    # --- loading and rotation ------------------------------------------------------------------

    def _load(self) -> None:
        with self.database.read() as connection:
            rows = signing_keys.usable_keys(connection, self.clock())
        self._apply(rows)

    def _apply(self, rows: list[SigningKeyRow]) -> None:
        self._rows = rows
        known = self._public
        self._public = {
            row.kid: known.get(row.kid) or serialization.load_pem_public_key(row.public_pem.encode())  # type: ignore[misc]
            for row in rows
        }
        current = self.clock()
        signer = next((row for row in rows if row.signs_until > current), None)
        if signer is None:
            self._signer = None
        elif self._signer is not None and self._signer[0] == signer.kid:
            self._signer = (signer.kid, self._signer[1], signer.signs_until)
        else:
            private = serialization.load_pem_private_key(self._private_pem(signer), password=None)
            assert isinstance(private, Ed25519PrivateKey)
            self._signer = (signer.kid, private, signer.signs_until)
        self._loaded_at = time.monotonic()

    def _private_pem(self, row: SigningKeyRow) -> bytes:
        if row.private_key_encrypted is None:
            assert row.private_pem is not None, f"signing key {row.kid} has no private key"
            return row.private_pem.encode()  # written by an older version; sealed at the next start
        try:
            return self.box.decrypt(row.private_key_encrypted)
        except UndecryptableSecret:
            raise _unreadable(row.kid) from None

    def _new_row(self, created: datetime) -> SigningKeyRow:
        private = Ed25519PrivateKey.generate()
        public = private.public_key()
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return SigningKeyRow(
            kid=key_id(public),
            algorithm=ALGORITHM,
            private_key_encrypted=self.box.encrypt(pem),
            public_pem=public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode(),
            created_at=created,
            signs_until=created + self.rotation,
            verifies_until=created + self.rotation + self.verify_margin,
        )

    def _create(self, connection_rows_retire: bool = False) -> None:
        created = self.clock()
        row = self._new_row(created)
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

    def retire(self, kid: str) -> SigningKeyInfo:
        """Stop the key verifying anything, at once (other processes within `RELOAD_INTERVAL`).

        Retiring the key that signs first starts signing with a new one. Retiring a retired key
        changes nothing. Raises `UnknownKey`.
        """
        with self._lock:
            at = self.clock()
            with self.database.write() as connection:
                target = next((row for row in signing_keys.all_keys(connection) if row.kid == kid), None)
                if target is None:
                    raise UnknownKey(kid)
                if target.retired_at is None and target.verifies_until > at:
                    if target.signs_until > at:
                        signing_keys.retire_signing(connection, at, self.verify_margin)
                        signing_keys.insert_key(connection, self._new_row(at))
                    signing_keys.retire_key(connection, kid, at)
                rows = signing_keys.all_keys(connection)
            self._apply([row for row in rows if row.retired_at is None and row.verifies_until > at])
        return next(info for info in _describe(rows, at) if info.kid == kid)

    def list_keys(self) -> list[SigningKeyInfo]:
        """Every stored key with its state, newest first (retired ones until they are purged)."""
        with self.database.read() as connection:
            rows = signing_keys.all_keys(connection)
        return _describe(rows, self.clock())

    # --- signing and verifying -----------------------------------------------------------------

    def _stale(self) -> bool:
        return time.monotonic() - self._loaded_at >= RELOAD_INTERVAL

    def sign(self, claims: dict[str, Any]) -> str:
        if self._stale():
            with self._lock:
                self._load()  # a key rotated or retired elsewhere must not sign here any more
        signer = self._signer
        if signer is None or signer[2] <= self.clock():
            self.ensure_signing_key()
            signer = self._signer
            assert signer is not None
        kid, private, _ = signer
        return jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": kid, "typ": "JWT"})

    def public_key(self, kid: str) -> Ed25519PublicKey | None:
        # One indexed read per interval, also for a known kid: it may have been retired. This runs
        # on the event loop: when another thread holds the lock (a rotation), that thread reloads.
        if self._stale() and self._lock.acquire(blocking=False):
            try:
                self._load()
            finally:
                self._lock.release()
        return self._public.get(kid)

    def verifies(self, kid: str) -> bool:
        """Whether the key still verifies (not retired, not expired); callers caching verified tokens ask."""
        return self.public_key(kid) is not None

    def decode(self, token: str, audience: str, issuer: str, leeway: float) -> dict[str, Any]:
        """The verified claims of a token, or `InvalidToken` saying what is wrong with it."""
        return self.decode_with_kid(token, audience, issuer, leeway)[0]

    def decode_with_kid(self, token: str, audience: str, issuer: str, leeway: float) -> tuple[dict[str, Any], str]:
        """`decode`, and the kid of the key that signed the token."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed token") from None
        if header.get("alg") != ALGORITHM:
            raise InvalidToken(f"token algorithm {header.get('alg')!r} is not accepted")
        kid = header.get("kid")
        key = self.public_key(kid) if isinstance(kid, str) else None
        if key is None or not isinstance(kid, str):
            raise InvalidToken("token signed by an unknown key")
        try:
            claims = jwt.decode(
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
        return claims, kid

    def jwks(self) -> dict[str, Any]:
        """The public keys that currently verify, as a JSON Web Key Set."""
        if self._stale():
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
