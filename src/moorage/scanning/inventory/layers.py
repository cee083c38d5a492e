"""Reading one layer blob, once and as a stream, into the `LayerSummary` the inventory needs.

The blob is decompressed on the fly (gzip, zstd, or none: the first bytes decide, as containerd's
`DecompressStream` does, so a Docker "tar" layer that is really gzip still reads) and walked with
`tarfile` in stream mode: one pass, never the whole layer in memory, nothing written to disk but a
bounded spool for a jar or an rpm database.

A layer comes from whoever pushed the image, so it is read as hostile input:
- member names are normalised (`./`, a leading `/`); a name that climbs out of the root (`../x`) is
  skipped, since no runtime would put it in the image's file system;
- symlinks and hard links are never followed: a symlink only hides what a lower layer had at its
  path, and a hard link is resolved only to evidence already read from the same layer;
- every file kept has a size bound (checked on the header, before reading), the layer's
  uncompressed size, its entry count and the total kept are bounded (`Limits`); crossing a layer
  bound raises `LayerUnreadable`, an oversized single file is skipped.
"""

from __future__ import annotations

import gzip
import io
import json
import posixpath
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

import zstandard

from moorage.domain import media_types
from moorage.scanning.inventory import golang, java, rpm
from moorage.scanning.inventory.selection import Interest, classify, trim
from moorage.scanning.inventory.summary import FileRecord, LayerSummary, RecordKind

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class InventoryError(Exception):
    """An image whose packages cannot be inventoried; the message says why, for the scan's status."""


class UnsupportedImage(InventoryError):
    """A layer that is not a file system tar (an artifact, a Helm chart, an unknown media type)."""


class LayerUnreadable(InventoryError):
    """A layer that is corrupt or crosses a bound (`Limits`): a truncated stream, a tar bomb."""


@dataclass(frozen=True)
class Layer:
    """One layer of an image, as its manifest describes it."""

    digest: str
    """The layer blob's digest (the cache key of its summary)."""
    media_type: str
    """As in the manifest: OCI or Docker tar, tar+gzip or tar+zstd."""
    open: Callable[[], BinaryIO]
    """Opens the stored (compressed) blob as a stream; it is read once, sequentially, then closed."""


@dataclass(frozen=True)
class Limits:
    """The bounds a layer is read within. The defaults fit real images with a wide margin."""

    max_layer_bytes: int = 64 << 30
    """Uncompressed tar bytes of one layer (a decompression bomb stops here)."""
    max_entries: int = 2_000_000
    """Tar members of one layer."""
    max_metadata_bytes: int = 1 << 20
    """One small metadata file: os-release, `METADATA`, `PKG-INFO`, `package.json`."""
    max_database_bytes: int = 256 << 20
    """One package database: dpkg `status`, a `.list`, apk `installed`, `rpmdb.sqlite`."""
    max_jar_bytes: int = 512 << 20
    """One Java archive."""
    max_go_search_bytes: int = 512 << 20
    """How far into an executable the Go build information is looked for."""
    max_kept_bytes: int = 256 << 20
    """Everything one layer's summary keeps (its text and records)."""
    max_hidden_paths: int = 500_000
    """Symlinks, executables and skipped files one summary records as hiding lower layers."""


def summarise_layer(layer: Layer, limits: Limits | None = None) -> LayerSummary:
    """Read `layer` once and return what it contributes (`UnsupportedImage`, `LayerUnreadable`)."""
    check_media_type(layer)
    reader = _LayerReader(layer.digest, limits or Limits())
    try:
        with layer.open() as blob:
            tar_stream = _decompressed(blob)
            if tar_stream is None:
                return LayerSummary()
            with tarfile.open(fileobj=_Counted(tar_stream, reader.limits.max_layer_bytes), mode="r|") as archive:
                reader.read(archive)
    except (tarfile.TarError, EOFError, OSError, zlib.error, zstandard.ZstdError) as error:
        raise LayerUnreadable(f"layer {layer.digest} is not a readable tar stream: {error}") from error
    return reader.summary()


def check_media_type(layer: Layer) -> None:
    """Refuse a layer whose media type is not a file system tar (`UnsupportedImage`)."""
    if layer.media_type not in media_types.FILESYSTEM_LAYERS:
        raise UnsupportedImage(f"layer {layer.digest} has media type {layer.media_type!r}, not a file system tar")


def _decompressed(blob: BinaryIO) -> _ByteStream | None:
    head = blob.read(4)
    if not head:
        return None
    stream = io.BufferedReader(_Prefixed(head, blob))
    if head.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(fileobj=stream, mode="rb")
    if head == _ZSTD_MAGIC:
        return zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)
    return stream


class _ByteStream(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Prefixed(io.RawIOBase):
    """`head` then the rest of `stream`: puts back the bytes read to sniff the compression."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head, self._stream = head, stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            count = min(len(buffer), len(self._head))
            buffer[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Counted(io.RawIOBase):
    """Fails with `LayerUnreadable` once the uncompressed stream passes its bound."""

    def __init__(self, stream: _ByteStream, limit: int) -> None:
        self._stream, self._left = stream, limit

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size if size >= 0 else 1 << 20)
        self._left -= len(data)
        if self._left < 0:
            raise LayerUnreadable("the layer's uncompressed size passes the bound (a decompression bomb?)")
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def normalise(name: str) -> str | None:
    """A member name as a path relative to the root, or None if it is the root or climbs out of it."""
    path = posixpath.normpath(name.lstrip("/"))
    if path in (".", "..") or path.startswith("../") or "\0" in path:
        return None
    return path


class _LayerReader:
    def __init__(self, digest: str, limits: Limits) -> None:
        self.digest, self.limits = digest, limits
        self.files: dict[str, FileRecord] = {}
        self.hidden: dict[str, None] = {}  # ordered set
        self.whiteouts: dict[str, None] = {}
        self.opaque_dirs: dict[str, None] = {}
        self.kept = 0

    def summary(self) -> LayerSummary:
        return LayerSummary(
            files=dict(self.files),
            hidden=tuple(self.hidden),
            whiteouts=tuple(self.whiteouts),
            opaque_dirs=tuple(self.opaque_dirs),
        )

    def read(self, archive: tarfile.TarFile) -> None:
        for count, member in enumerate(archive, start=1):
            if count > self.limits.max_entries:
                raise LayerUnreadable(f"layer {self.digest} has more than {self.limits.max_entries} entries")
            path = normalise(member.name)
            if path is None:
                continue
            parent, name = posixpath.split(path)
            if name == OPAQUE_WHITEOUT:
                self.opaque_dirs[parent] = None
            elif name.startswith(WHITEOUT_PREFIX):
                self.whiteouts[posixpath.join(parent, name[len(WHITEOUT_PREFIX) :])] = None
            elif member.isdir():
                continue
            elif member.isreg():
                self._regular(archive, member, path)
            elif member.islnk():
                target = normalise(member.linkname)
                if target is not None and target in self.files:
                    self._keep(path, self.files[target])
                else:
                    self._hide(path)
            else:
                self._hide(path)  # a symlink, device or fifo replaces whatever was there

    def _regular(self, archive: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> None:
        interest = classify(path)
        if interest is None:
            if member.mode & 0o111:
                self._executable(archive, member, path)
            return
        bound = {
            Interest.DISTRO: self.limits.max_metadata_bytes,
            Interest.PYTHON: self.limits.max_metadata_bytes,
            Interest.NPM: self.limits.max_metadata_bytes,
            Interest.JAR: self.limits.max_jar_bytes,
        }.get(interest, self.limits.max_database_bytes)
        stream = archive.extractfile(member)
        if member.size > bound or stream is None:
            self._hide(path)
            return
        record: FileRecord | None
        if interest is Interest.RPMDB:
            packages = rpm.read_rpmdb(stream, max_bytes=bound)
            record = None if packages is None else _json_record(RecordKind.RPMDB, [p.to_json() for p in packages])
        elif interest is Interest.JAR:
            try:
                jar = java.read_jar(stream, member.size, max_bytes=bound)
            except java.ArchiveTooLarge:
                jar = None
            record = None if jar is None else _json_record(RecordKind.JAR, jar)
        else:
            text = trim(interest, stream.read(bound).decode("utf-8", "replace"))
            record = None if text is None else FileRecord(RecordKind.TEXT, text)
        if record is None:
            self._hide(path)
        else:
            self._keep(path, record)

    def _executable(self, archive: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> None:
        stream = archive.extractfile(member)
        head = stream.read(4) if stream is not None else b""
        info = None
        if stream is not None and head == golang.ELF_MAGIC:
            info = golang.find_buildinfo(stream, already_read=head, max_bytes=self.limits.max_go_search_bytes)
        if info is None:
            self._hide(path)
        else:
            self._keep(path, _json_record(RecordKind.GO_BUILDINFO, {"go": info.go_version, "modinfo": info.modinfo}))

    def _keep(self, path: str, record: FileRecord) -> None:
        self.kept += len(record.content) + len(path)
        if self.kept > self.limits.max_kept_bytes:
            raise LayerUnreadable(f"layer {self.digest} holds more than {self.limits.max_kept_bytes} bytes of metadata")
        self.hidden.pop(path, None)
        self.files[path] = record

    def _hide(self, path: str) -> None:
        self.files.pop(path, None)
        self.hidden[path] = None
        if len(self.hidden) > self.limits.max_hidden_paths:
            raise LayerUnreadable(
                f"layer {self.digest} has more than {self.limits.max_hidden_paths} links and executables"
            )


def _json_record(kind: RecordKind, value: Any) -> FileRecord:
    return FileRecord(kind, json.dumps(value, separators=(",", ":")))
