"""Secrets at rest, seen as a local user of the host: the data directory is private, and the
signing keys in the database are useless without the secret key kept outside it."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from moorage.auth.keys import thumbprint
from moorage.auth.secret_box import SecretBox
from tests.functional.auth.conftest import AUTH_SETTINGS
from tests.functional.helpers import push_blob, start_upload
from tests.support.auth import ADMIN, ADMIN_PASSWORD, Forger, api, client_for, token_for
from tests.support.server import RunningRegistry, start_server

SECRET_A = "a" * 16 + "-first-secret-key-of-this-test"
SECRET_B = "b" * 16 + "-second-secret-key-of-this-test"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def private_key_texts(key: Ed25519PrivateKey) -> list[bytes]:
    """Every form in which a stored private key could be recognised: PEM, its base64 body, DER, raw."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    body = b"".join(line for line in pem.splitlines() if not line.startswith(b"-----"))
    return [pem, body, body[:40], der, raw, base64.b64encode(raw)]


def database_files(data_dir: Path) -> list[Path]:
    return [path for path in (data_dir / "metadata.db", data_dir / "metadata.db-wal") if path.exists()]


def assert_not_in_database(data_dir: Path, key: Ed25519PrivateKey) -> None:
    for path in database_files(data_dir):
        content = path.read_bytes()
        for text in private_key_texts(key):
            assert text not in content, f"the private signing key is readable in {path.name}"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def secured_registry(data_dir: Path) -> Iterator[RunningRegistry]:
    with start_server(data_dir, **AUTH_SETTINGS) as server:
        yield server


# --- file modes ------------------------------------------------------------------------------------


def test_the_data_directory_and_every_file_in_it_are_private_to_the_user_moorage_runs_as(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)  # as an operator's `mkdir` makes it
    data_dir.chmod(0o755)
    settings = {key: value for key, value in AUTH_SETTINGS.items() if key != "admin_password"}
    with start_server(data_dir, **settings) as server:
        password = (data_dir / "initial-admin-password").read_text().strip()
        with client_for(server, (ADMIN, password)) as client:
            push_blob(client, "modes/blob")
            start_upload(client, "modes/staged")  # leaves a staging file in uploads/
        walked = [data_dir, *data_dir.rglob("*")]
        names = {path.relative_to(data_dir).as_posix() for path in walked}
        assert {"metadata.db", "metadata.db-wal", "secret.key", "initial-admin-password"} <= names
        assert any(name.startswith("blobs/sha256/") for name in names)
        assert any(name.startswith("uploads/") and name != "uploads" for name in names)
        for path in walked:
            if path.is_dir():
                assert mode(path) == 0o700, f"{path.relative_to(tmp_path)} is {mode(path):04o}"
            else:
                assert mode(path) & 0o077 == 0, f"{path.relative_to(tmp_path)} is {mode(path):04o}"
        for name in ("metadata.db", "metadata.db-wal", "metadata.db-shm", "secret.key", "initial-admin-password"):
            assert mode(data_dir / name) == 0o600, f"{name} is {mode(data_dir / name):04o}"
        assert f"the data directory {data_dir} was accessible to other users" in server.log()


def test_a_database_file_left_readable_by_others_is_named_in_a_warning_at_start(
    data_dir: Path, secured_registry: RunningRegistry
) -> None:
    secured_registry.kill()
    (data_dir / "metadata.db").chmod(0o644)
    with start_server(data_dir, **AUTH_SETTINGS) as server:
        assert f"{data_dir / 'metadata.db'} is accessible to other users (mode 0644)" in server.log()


# --- signing keys encrypted --------------------------------------------------------------------------


def test_the_signing_key_is_not_in_the_database_nor_its_wal_after_start_and_rotation(
    data_dir: Path, secured_registry: RunningRegistry
) -> None:
    first = Forger.of(secured_registry).private_key
    assert_not_in_database(data_dir, first)
    with api(secured_registry) as admin:
        assert admin.post("/system/signing-keys/rotate").status_code == 200
    second = Forger.of(secured_registry).private_key
    assert second.public_key() != first.public_key()
    assert_not_in_database(data_dir, first)
    assert_not_in_database(data_dir, second)
    assert token_for(secured_registry.url, (ADMIN, ADMIN_PASSWORD))


def test_without_the_secret_key_file_a_stolen_database_yields_no_signing_key(
    data_dir: Path, secured_registry: RunningRegistry
) -> None:
    with sqlite3.connect(data_dir / "metadata.db") as connection:
        rows = connection.execute("SELECT private_pem, private_key_encrypted FROM signing_keys").fetchall()
    assert rows and all(plain is None and sealed for plain, sealed in rows)
    thief = SecretBox("a guess at the secret key, long enough to try")
    for _, sealed in rows:
        with pytest.raises(Exception, match="no configured secret key"):
            thief.decrypt(sealed)


def stored(moment: datetime) -> str:
    """A timestamp as SQLAlchemy stores it in SQLite (UTC, no zone)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def legacy_key(data_dir: Path) -> Ed25519PrivateKey:
    """A plaintext signing key as versions before the encryption stored it, newest so that it signs."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    created = datetime.now(UTC) + timedelta(seconds=1)
    with sqlite3.connect(data_dir / "metadata.db") as connection:
        connection.execute(
            "INSERT INTO signing_keys (kid, algorithm, private_pem, public_pem, created_at, signs_until,"
            " verifies_until) VALUES (?, 'EdDSA', ?, ?, ?, ?, ?)",
            (
                thumbprint(key.public_key()),
                pem.decode(),
                public.decode(),
                stored(created),
                stored(created + timedelta(days=1)),
                stored(created + timedelta(days=2)),
            ),
        )
    return key


def test_plaintext_keys_of_an_older_database_are_encrypted_at_start_and_keep_working(
    data_dir: Path, secured_registry: RunningRegistry
) -> None:
    secured_registry.kill()
    key = legacy_key(data_dir)
    with start_server(data_dir, **AUTH_SETTINGS) as server:
        assert_not_in_database(data_dir, key)
        forger = Forger.of(server)
        assert forger.kid == thumbprint(key.public_key())
        assert forger.private_key.private_bytes_raw() == key.private_bytes_raw()
        token = forger.sign(forger.claims("legacy/repo", ["pull"]))
        response = httpx.get(f"{server.url}/v2/legacy/repo/tags/list", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code != 401, response.text
        assert "encrypted 1 signing key(s) stored in plaintext" in server.log()


# --- the secret key: setting, rotation, loss ---------------------------------------------------------


def test_rotating_the_secret_key_reencrypts_every_signing_key(data_dir: Path) -> None:
    with start_server(data_dir, **AUTH_SETTINGS, secret_key=SECRET_A) as server:
        assert not (data_dir / "secret.key").exists()  # the setting replaces the file
        kid = Forger.of(server, SECRET_A).kid
        token = token_for(server.url, (ADMIN, ADMIN_PASSWORD), "repository:rotated/repo:pull")
    rotation = {"secret_key": SECRET_B, "previous_secret_keys": json.dumps([SECRET_A])}
    with start_server(data_dir, **AUTH_SETTINGS, **rotation) as server:
        assert "re-encrypted 1 signing key(s) with the current secret key" in server.log()
        assert Forger.of(server, SECRET_B).kid == kid  # decrypts with the new key alone
    with start_server(data_dir, **AUTH_SETTINGS, secret_key=SECRET_B) as server:
        response = httpx.get(f"{server.url}/v2/rotated/repo/tags/list", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code != 401, response.text


def test_a_server_given_the_wrong_secret_key_refuses_to_start_and_says_which_setting_to_fix(data_dir: Path) -> None:
    with start_server(data_dir, **AUTH_SETTINGS, secret_key=SECRET_A):
        pass
    with pytest.raises(RuntimeError) as failure, start_server(data_dir, **AUTH_SETTINGS, secret_key=SECRET_B):
        pass
    assert "is encrypted with a secret key this server does not have" in str(failure.value)
    assert "previous_secret_keys" in str(failure.value)


def test_config_show_masks_the_secret_keys(tmp_path: Path) -> None:
    env = {**os.environ, "MOORAGE_SECRET_KEY": SECRET_A, "MOORAGE_PREVIOUS_SECRET_KEYS": json.dumps([SECRET_B])}
    result = subprocess.run(
        [sys.executable, "-m", "moorage", "config", "show"], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert SECRET_A not in result.stdout and SECRET_B not in result.stdout
    shown = json.loads(result.stdout)
    assert shown["secret_key"] == "***" and shown["previous_secret_keys"] == ["***"]


def test_a_secret_key_shorter_than_32_characters_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "MOORAGE_SECRET_KEY": "short"}
    result = subprocess.run(
        [sys.executable, "-m", "moorage", "config", "show"], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode != 0
    assert "secret_key" in result.stderr
