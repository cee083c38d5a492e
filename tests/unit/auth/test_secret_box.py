"""The secret box and its key file: what a thief with the database but not the key gets (nothing)."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from moorage.auth.secret_box import SecretBox, UndecryptableSecret
from moorage.auth.secret_key_file import MissingSecretKey, ensure_key_file, read_key_file

OLD = "old-secret-key-" + "o" * 32
NEW = "new-secret-key-" + "n" * 32
SECRET = b"-----BEGIN PRIVATE KEY-----\nnot really a key\n-----END PRIVATE KEY-----\n"


def test_a_secret_round_trips_and_its_ciphertext_shows_nothing_of_it() -> None:
    box = SecretBox(NEW)
    sealed = box.encrypt(SECRET)
    assert box.decrypt(sealed) == SECRET
    assert b"PRIVATE KEY" not in sealed.encode() and "not really" not in sealed
    assert box.encrypt(SECRET) != sealed  # a fresh IV each time


def test_another_key_decrypts_nothing() -> None:
    sealed = SecretBox(NEW).encrypt(SECRET)
    with pytest.raises(UndecryptableSecret):
        SecretBox(OLD).decrypt(sealed)
    with pytest.raises(UndecryptableSecret):
        SecretBox(NEW).decrypt("not a token at all é")


def test_previous_keys_decrypt_and_reencryption_moves_a_secret_to_the_current_key() -> None:
    sealed = SecretBox(OLD).encrypt(SECRET)
    rotated = SecretBox(NEW, [OLD])
    assert rotated.decrypt(sealed) == SECRET and not rotated.is_current(sealed)
    moved = rotated.reencrypt(sealed)
    assert rotated.is_current(moved)
    assert SecretBox(NEW).decrypt(moved) == SECRET


def test_a_short_secret_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 characters"):
        SecretBox("short")


def test_the_key_file_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "private" / "secret.key"
    key, created = ensure_key_file(path)
    assert created and len(key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert ensure_key_file(path) == (key, False)
    assert read_key_file(path) == key
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temporary file left


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    keys: list[str] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        keys.append(ensure_key_file(path)[0])

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1 and keys[0] == read_key_file(path)


def test_an_empty_or_missing_key_file_is_an_error_not_a_new_key(tmp_path: Path) -> None:
    with pytest.raises(MissingSecretKey, match="does not exist"):
        read_key_file(tmp_path / "missing.key")
    empty = tmp_path / "empty.key"
    empty.touch()
    with pytest.raises(MissingSecretKey, match="is empty"):
        ensure_key_file(empty)
