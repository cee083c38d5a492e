"""Content digests (OCI image-spec "Digests"): parsing, validation and hashing.

Only the registered algorithms are accepted, with their exact encodings, so a digest can be
used safely to build a storage path.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol

from moorage.domain.errors import ErrorCode, RegistryError

ALGORITHMS: dict[str, int] = {"sha256": 64, "sha512": 128}
_HEX = re.compile(r"^[a-f0-9]+$")


class Hasher(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def hexdigest(self) -> str: ...


@dataclass(frozen=True, order=True)
class Digest:
    """A verified `algorithm:hex` digest."""

    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse a digest, or raise DIGEST_INVALID naming what is wrong."""
        algorithm, sep, encoded = text.partition(":")
        if not sep:
            raise RegistryError(ErrorCode.DIGEST_INVALID, f"invalid digest {text!r}: expected algorithm:hex")
        length = ALGORITHMS.get(algorithm)
        if length is None:
            raise RegistryError(ErrorCode.DIGEST_INVALID, f"unsupported digest algorithm {algorithm!r}")
        if len(encoded) != length or not _HEX.match(encoded):
            raise RegistryError(
                ErrorCode.DIGEST_INVALID, f"invalid {algorithm} digest: expected {length} lowercase hex characters"
            )
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def hasher(self) -> Hasher:
        return new_hasher(self.algorithm)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def new_hasher(algorithm: str = "sha256") -> Hasher:
    return hashlib.new(algorithm)


def is_digest(reference: str) -> bool:
    """Whether a manifest reference is meant as a digest (it has a colon) rather than a tag."""
    return ":" in reference
