"""A SHA-256 whose running state can be saved and resumed in another process: how any node continues
an upload's hash where the previous chunk, on another node, left it (Distribution keeps Go's
marshalled hash state for the same reason).

hashlib cannot export a state (OpenSSL 3 hides it). The state saved here is SHA-256's own
(FIPS 180-4, 6.2): the eight chaining words, the message length and the bytes of the unfinished
block; the format is ours and names no library. The hashing is pycryptodome's SHA256 (SHA-NI where
the CPU has it, about as fast as hashlib), whose state is a small C struct (`hash_state` in its
`hash_SHA2_template.c`) read and written through ctypes. That layout is the library's, not a
published interface, so a self-test on first use saves a state, resumes it in a new object and
compares the digest with hashlib's; if it fails (a changed layout), `RunningSha256.save()` returns
None and an upload falls back to hashing its staged bytes again at commit. A wrong state can only
produce a digest that does not match what the client claims, which is refused, never stored.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import struct

from Crypto.Hash import SHA256
from Crypto.Util import _raw_api

log = logging.getLogger(__name__)

BLOCK = 64
_MAGIC = b"S256\x01"
_HEADER = struct.Struct(">8IQ")
"""The chaining words H0..H7 and the message length in bytes, big-endian."""


class _HashState(ctypes.Structure):
    """pycryptodome's `hash_state` for SHA-256 (32-bit words)."""

    _fields_ = [
        ("h", ctypes.c_uint32 * 8),
        ("buf", ctypes.c_uint8 * BLOCK),
        ("curlen", ctypes.c_uint),
        ("totbits", ctypes.c_uint32 * 2),
        ("digest_size", ctypes.c_size_t),
    ]


class BadHashState(ValueError):
    """A saved state that is not one this module wrote."""


class RunningSha256:
    """SHA-256 over a stream that may continue in another process: `save()` here, `resume()` there."""

    def __init__(self) -> None:
        self._hash = SHA256.new()

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        self._hash.update(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def save(self) -> bytes | None:
        """The state, or None where this library's layout failed the self-test."""
        return _save(self._hash) if resumable() else None

    @classmethod
    def resume(cls, saved: bytes) -> RunningSha256:
        """The hash as it was when `saved`; BadHashState if `saved` is malformed or cannot be loaded."""
        if not resumable():
            raise BadHashState("this process cannot resume a SHA-256 state")
        running = cls()
        _load(running._hash, saved)
        return running


def _struct_of(hash_object: SHA256.SHA256Hash) -> _HashState:
    pointer = hash_object._state.get()  # a cffi `void *`, or a ctypes c_void_p without cffi
    address = pointer.value if isinstance(pointer, ctypes.c_void_p) else int(_raw_api.ffi.cast("uintptr_t", pointer))
    if not address:
        raise BadHashState("no hash state to read")
    return _HashState.from_address(address)


def _save(hash_object: SHA256.SHA256Hash) -> bytes:
    state = _struct_of(hash_object)
    pending = bytes(state.buf[: state.curlen])
    length = ((state.totbits[1] << 32) | state.totbits[0]) // 8 + state.curlen
    return _MAGIC + _HEADER.pack(*state.h, length) + pending


def _load(hash_object: SHA256.SHA256Hash, saved: bytes) -> None:
    if not saved.startswith(_MAGIC) or len(saved) < len(_MAGIC) + _HEADER.size:
        raise BadHashState("not a saved SHA-256 state")
    *words, length = _HEADER.unpack_from(saved, len(_MAGIC))
    pending = saved[len(_MAGIC) + _HEADER.size :]
    if len(pending) != length % BLOCK:
        raise BadHashState("a saved SHA-256 state whose length and unfinished block disagree")
    state = _struct_of(hash_object)
    for index, word in enumerate(words):
        state.h[index] = word
    ctypes.memmove(ctypes.addressof(state.buf), pending, len(pending))
    state.curlen = len(pending)
    bits = (length - len(pending)) * 8
    state.totbits[0], state.totbits[1] = bits & 0xFFFFFFFF, bits >> 32


@functools.cache
def resumable() -> bool:
    """Whether saving and resuming works with the installed pycryptodome (checked once per process)."""
    sample = bytes(range(256)) * 9  # 2,304 bytes: several whole blocks, then part of one
    try:
        for cut in (0, 1, 63, 64, 65, 1000, len(sample)):
            first = SHA256.new()
            first.update(sample[:cut])
            second = SHA256.new()
            _load(second, _save(first))
            second.update(sample[cut:])
            if second.hexdigest() != hashlib.sha256(sample).hexdigest():
                raise BadHashState(f"resumed at {cut} bytes, the digest differs")
    except (BadHashState, ValueError, AttributeError, TypeError) as error:
        log.warning("SHA-256 states cannot be saved here (%s): uploads that change node are hashed again", error)
        return False
    return True
