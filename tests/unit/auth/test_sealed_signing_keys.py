"""Signing keys in the metadata store, on SQLite and PostgreSQL: sealed from an older schema, rotated
to a new secret key, listed and retired."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from moorage.auth.keys import (
    InvalidToken,
    KeyRing,
    SealedKeyUnreadable,
    UnknownKey,
    key_id,
    seal_stored_keys,
    thumbprint,
)
from moorage.auth.secret_box import SecretBox
from moorage.metadata.common import now
from moorage.metadata.database import Database
from tests.support.migrations import migrate

OLD = "old-secret-key-" + "o" * 32
NEW = "new-secret-key-" + "n" * 32


def keyring(database: Database, box: SecretBox) -> KeyRing:
    return KeyRing(database, rotation=timedelta(days=30), verify_margin=timedelta(days=31), box=box)


def test_a_plaintext_key_of_revision_0004_is_sealed_and_still_signs(empty_database_url: str) -> None:
    database = Database(empty_database_url)
    migrate(database, "0004")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    created = now()
    with database.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO signing_keys (kid, algorithm, private_pem, public_pem, created_at, signs_until,"
                " verifies_until) VALUES (:kid, 'EdDSA', :private, :public, :created, :signs, :verifies)"
            ),
            {
                "kid": thumbprint(key.public_key()),
                "private": pem.decode(),
                "public": public.decode(),
                "created": created,
                "signs": created + timedelta(days=1),
                "verifies": created + timedelta(days=2),
            },
        )
    database.migrate()
    box = SecretBox(NEW)
    assert seal_stored_keys(database, box) == (1, 0)
    assert seal_stored_keys(database, box) == (0, 0)  # idempotent
    with database.read() as connection:
        plain, sealed = connection.execute(sa.text("SELECT private_pem, private_key_encrypted FROM signing_keys")).one()
    assert plain is None and box.decrypt(sealed) == pem
    ring = keyring(database, box)
    ring.ensure_signing_key()
    token = ring.sign({"sub": "x"})
    assert jwt.get_unverified_header(token)["kid"] == thumbprint(key.public_key())
    assert jwt.decode(token, key.public_key(), algorithms=["EdDSA"])["sub"] == "x"
    database.dispose()


def test_a_new_secret_key_takes_over_after_one_start_with_the_old_one_as_previous(empty_database_url: str) -> None:
    database = Database(empty_database_url)
    database.migrate()
    keyring(database, SecretBox(OLD)).ensure_signing_key()
    with pytest.raises(SealedKeyUnreadable, match="previous_secret_keys"):
        seal_stored_keys(database, SecretBox(NEW))
    assert seal_stored_keys(database, SecretBox(NEW, [OLD])) == (0, 1)
    ring = keyring(database, SecretBox(NEW))
    ring.ensure_signing_key()
    assert ring.sign({"sub": "x"})
    database.dispose()


def test_retiring_keys_changes_their_state_and_what_verifies(empty_database_url: str) -> None:
    database = Database(empty_database_url)
    database.migrate()
    ring = keyring(database, SecretBox(NEW))
    ring.ensure_signing_key()
    [first] = ring.list_keys()
    assert first.state == "signing"
    old_token = ring.sign({"sub": "x", "aud": "a", "iss": "i", "iat": 0, "nbf": 0, "exp": 2**31})
    second = ring.rotate()
    assert [(k.kid, k.state) for k in ring.list_keys()] == [(second, "signing"), (first.kid, "verifying")]
    assert ring.decode(old_token, "a", "i", 0)["sub"] == "x"

    retired = ring.retire(first.kid)
    assert retired.state == "retired" and retired.verifies_until <= now()
    with pytest.raises(InvalidToken):
        ring.decode(old_token, "a", "i", 0)
    other = keyring(database, SecretBox(NEW))  # another process
    with pytest.raises(InvalidToken):
        other.decode(old_token, "a", "i", 0)
    assert ring.retire(first.kid).state == "retired"  # again: nothing changes

    signer = ring.retire(second)  # the signing key: a new one signs first
    states = {k.kid: k.state for k in ring.list_keys()}
    assert signer.state == "retired" and states[second] == "retired"
    [third] = [kid for kid, state in states.items() if state == "signing"]
    assert third not in (first.kid, second)
    assert jwt.get_unverified_header(ring.sign({"sub": "y"}))["kid"] == third
    with pytest.raises(UnknownKey):
        ring.retire("no-such-kid")
    database.dispose()


def test_no_new_kid_starts_with_a_dash_which_a_command_line_reads_as_an_option() -> None:
    keys = (Ed25519PrivateKey.generate().public_key() for _ in range(10_000))
    dashed = next(key for key in keys if thumbprint(key).startswith("-"))  # one in 64
    assert key_id(dashed) == "k" + thumbprint(dashed)
    plain = next(key for key in keys if not thumbprint(key).startswith("-"))
    assert key_id(plain) == thumbprint(plain)
