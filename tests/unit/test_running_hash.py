"""A saved SHA-256 state resumes to the same digest hashlib gives, wherever the stream was cut."""

from __future__ import annotations

import hashlib
import os

import pytest

from moorage.domain.running_hash import BadHashState, RunningSha256, resumable

DATA = os.urandom(10_000)


def test_this_machine_can_save_states() -> None:
    assert resumable(), "pycryptodome's state layout changed: uploads that change node are hashed again"


@pytest.mark.parametrize("cut", [0, 1, 55, 63, 64, 65, 128, 4_097, len(DATA)])
def test_a_state_saved_after_any_number_of_bytes_resumes_to_hashlibs_digest(cut: int) -> None:
    first = RunningSha256()
    first.update(DATA[:cut])
    saved = first.save()
    assert saved is not None
    resumed = RunningSha256.resume(saved)
    resumed.update(memoryview(DATA)[cut:])
    assert resumed.hexdigest() == hashlib.sha256(DATA).hexdigest()


def test_a_state_is_resumed_many_times_in_a_row() -> None:
    running = RunningSha256()
    for start in range(0, len(DATA), 777):
        running.update(DATA[start : start + 777])
        saved = running.save()
        assert saved is not None
        running = RunningSha256.resume(saved)
    assert running.hexdigest() == hashlib.sha256(DATA).hexdigest()


def test_the_saved_state_is_small_and_does_not_hold_the_data() -> None:
    running = RunningSha256()
    running.update(DATA)
    saved = running.save()
    assert saved is not None and len(saved) < 5 + 40 + 64
    assert DATA[:64] not in saved


@pytest.mark.parametrize(
    "saved",
    [
        b"",
        b"junk" * 20,
        b"S256\x01" + b"\x00" * 39,  # the header cut short
        b"S256\x01" + b"\x00" * 32 + (70).to_bytes(8, "big") + b"x" * 5,  # 70 bytes need 6 pending
        b"S256\x01" + b"\x00" * 32 + (64).to_bytes(8, "big") + b"x",  # a whole block is never pending
    ],
)
def test_a_malformed_state_is_refused_not_resumed(saved: bytes) -> None:
    with pytest.raises(BadHashState):
        RunningSha256.resume(saved)
