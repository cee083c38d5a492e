"""RPM databases: the `Packages` table of `rpmdb.sqlite` and the header blobs it stores.

Since rpm 4.16 (RHEL 9, Fedora 33+, Rocky, Alma) the database is SQLite: table `Packages(hnum,
blob)`, one blob per installed package. A blob is an rpm header without its 8-byte magic (rpm's
`headerExport`): two big-endian int32s, the index entry count `il` and the data size `dl`, then `il`
16-byte entries (tag, type, offset, count; all big-endian int32) and `dl` bytes of data that the
offsets point into. Strings are NUL-terminated; a STRING_ARRAY is `count` of them in a row; INT32
arrays are `count` big-endian int32s. Only the tags below are read; every offset and count is
checked against the blob, so a hostile blob yields an error for that package, never a read beyond
it. The older Berkeley DB and `ndb` formats are not read.

The database file is copied to a temporary file and opened read-only with SQLite's defensive
settings (no trusted schema, immutable): a hostile database can fail to open, not run code.
"""

from __future__ import annotations

import sqlite3
import struct
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

TAG_NAME = 1000
TAG_VERSION = 1001
TAG_RELEASE = 1002
TAG_EPOCH = 1003
TAG_ARCH = 1022
TAG_SOURCERPM = 1044
TAG_DIRINDEXES = 1116
TAG_BASENAMES = 1117
TAG_DIRNAMES = 1118

TYPE_INT32 = 4
TYPE_STRING = 6
TYPE_STRING_ARRAY = 8
TYPE_I18NSTRING = 9

MAX_HEADER_ENTRIES = 1 << 16
MAX_HEADER_DATA = 256 << 20
MAX_PACKAGES = 100_000


class HeaderError(ValueError):
    """A header blob that is not a well-formed rpm header."""


@dataclass(frozen=True)
class RpmPackage:
    name: str
    version: str
    release: str
    epoch: int | None
    arch: str
    source_rpm: str
    files: tuple[str, ...] = ()

    @property
    def evr(self) -> str:
        """`[EPOCH:]VERSION-RELEASE`, the version OSV and rpm compare."""
        prefix = f"{self.epoch}:" if self.epoch else ""
        return f"{prefix}{self.version}-{self.release}"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "files": list(self.files)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RpmPackage:
        return cls(**{**data, "files": tuple(data.get("files", ()))})


def parse_header(blob: bytes) -> RpmPackage:
    """The package an rpm header blob describes (`HeaderError` if the blob is malformed)."""
    if len(blob) < 8:
        raise HeaderError("too short for an rpm header")
    entries, data_size = struct.unpack(">ii", blob[:8])
    if not 0 < entries <= MAX_HEADER_ENTRIES or not 0 <= data_size <= MAX_HEADER_DATA:
        raise HeaderError(f"implausible header sizes ({entries} entries, {data_size} data bytes)")
    store_start = 8 + 16 * entries
    if store_start + data_size > len(blob):
        raise HeaderError("header is shorter than its index says")
    store = blob[store_start : store_start + data_size]
    tags: dict[int, tuple[int, int, int]] = {}
    for number in range(entries):
        tag, kind, offset, count = struct.unpack(">iiii", blob[8 + 16 * number : 24 + 16 * number])
        if not 0 <= offset <= data_size or count < 0:
            raise HeaderError(f"entry for tag {tag} points outside the header")
        tags[tag] = (kind, offset, count)
    header = _Header(store, tags)
    basenames = header.strings(TAG_BASENAMES)
    dirnames = header.strings(TAG_DIRNAMES)
    dirindexes = header.int32s(TAG_DIRINDEXES)
    if len(dirindexes) != len(basenames) or any(not 0 <= index < len(dirnames) for index in dirindexes):
        raise HeaderError("file name tags do not agree")
    epochs = header.int32s(TAG_EPOCH)
    return RpmPackage(
        name=header.string(TAG_NAME),
        version=header.string(TAG_VERSION),
        release=header.string(TAG_RELEASE),
        epoch=epochs[0] if epochs else None,
        arch=header.string(TAG_ARCH),
        source_rpm=header.string(TAG_SOURCERPM),
        files=tuple(dirnames[index] + base for index, base in zip(dirindexes, basenames, strict=True)),
    )


@dataclass(frozen=True)
class _Header:
    store: bytes
    tags: dict[int, tuple[int, int, int]]

    def strings(self, tag: int) -> list[str]:
        if tag not in self.tags:
            return []
        kind, offset, count = self.tags[tag]
        if kind not in (TYPE_STRING, TYPE_STRING_ARRAY, TYPE_I18NSTRING):
            raise HeaderError(f"tag {tag} is not a string (type {kind})")
        if kind == TYPE_STRING:
            count = 1
        values: list[str] = []
        for _ in range(count):
            end = self.store.find(b"\0", offset)
            if end < 0:
                raise HeaderError(f"tag {tag} runs past the header")
            values.append(self.store[offset:end].decode("utf-8", "replace"))
            offset = end + 1
        return values

    def string(self, tag: int) -> str:
        values = self.strings(tag)
        return values[0] if values else ""

    def int32s(self, tag: int) -> list[int]:
        if tag not in self.tags:
            return []
        kind, offset, count = self.tags[tag]
        if kind != TYPE_INT32:
            raise HeaderError(f"tag {tag} is not an int32 (type {kind})")
        if offset + 4 * count > len(self.store):
            raise HeaderError(f"tag {tag} runs past the header")
        return list(struct.unpack(f">{count}i", self.store[offset : offset + 4 * count]))


def read_rpmdb(stream: IO[bytes], *, max_bytes: int) -> list[RpmPackage] | None:
    """The packages of the `rpmdb.sqlite` read from `stream`, or None if it is not one we can read.

    Headers that do not parse are left out (one broken header does not hide the rest).
    """
    with tempfile.TemporaryDirectory(prefix="moorage-rpmdb-") as directory:
        path = Path(directory) / "rpmdb.sqlite"
        with path.open("wb") as file:
            copied = _copy_bounded(stream, file, max_bytes)
        if copied is None:
            return None
        try:
            connection = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True)
        except sqlite3.Error:
            return None
        try:
            connection.execute("PRAGMA trusted_schema = OFF")
            connection.execute("PRAGMA cell_size_check = ON")
            packages: list[RpmPackage] = []
            for (blob,) in connection.execute("SELECT blob FROM Packages LIMIT ?", (MAX_PACKAGES,)):
                if not isinstance(blob, bytes):
                    continue
                try:
                    packages.append(parse_header(blob))
                except HeaderError:
                    continue
            return packages
        except sqlite3.Error:
            return None
        finally:
            connection.close()


def _copy_bounded(source: IO[bytes], target: IO[bytes], limit: int) -> int | None:
    copied = 0
    while chunk := source.read(1 << 20):
        copied += len(chunk)
        if copied > limit:
            return None
        target.write(chunk)
    return copied


def split_source_rpm(source_rpm: str) -> tuple[str, str] | None:
    """`openssl-3.0.7-27.el9.src.rpm` -> (`openssl`, `3.0.7-27.el9`); None if it is not of that form."""
    stem = source_rpm.removesuffix(".rpm")
    stem = stem.rsplit(".", 1)[0] if stem != source_rpm else stem  # drop the arch (.src / .nosrc)
    parts = stem.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], f"{parts[1]}-{parts[2]}"
