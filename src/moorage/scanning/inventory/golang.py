"""Go binaries: the build information the Go linker embeds, read without loading the binary.

Since Go 1.18 the linker writes a `.go.buildinfo` section that starts, 16-byte aligned, with the
32-byte header `\\xff Go buildinf:` + pointer size + flags; with flag bit 2 ("inline strings") two
varint-prefixed strings follow: the Go version (`go1.22.1`) and the module information that
`go version -m` prints (`path`, `mod`, `dep` and `=>` lines, tab separated), wrapped in 16-byte
sentinels. This is `debug/buildinfo`'s format (src/debug/buildinfo/buildinfo.go). Older binaries
keep pointers instead of the strings; reading those needs the whole ELF's address map, so they are
not inventoried (their Go version is older than any supported release anyway).

The search streams the file in chunks, keeping only a small window, and gives up after a bounded
number of bytes; a false match (the magic string also sits in the `go` command's own read-only
data) is skipped because it is not aligned or does not parse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

ELF_MAGIC = b"\x7fELF"
BUILDINFO_MAGIC = b"\xff Go buildinf:"
_HEADER_SIZE = 32
_ALIGN = 16
_FLAG_INLINE_STRINGS = 0x2
_MAX_VERSION = 256
_MAX_MODINFO = 1 << 20
_CHUNK = 1 << 20
_SENTINEL = 16


@dataclass(frozen=True)
class BuildInfo:
    go_version: str
    """As the binary states it: `go1.22.1`."""
    modinfo: str
    """`go version -m`'s lines: `path`, `mod`, `dep`, `=>`, `build`."""


def find_buildinfo(stream: IO[bytes], *, already_read: bytes = b"", max_bytes: int) -> BuildInfo | None:
    """The build information of the ELF file read from `stream`, or None if it holds none we can read.

    `already_read` is the file's first bytes if the caller peeked at them. At most `max_bytes` of
    the file are searched; the window kept in memory is about two chunks and the bounded strings.
    """
    window = already_read
    window_start = 0  # file offset of window[0]
    consumed = len(already_read)
    searched_to = 0  # offsets below this were already searched for the magic
    need = _HEADER_SIZE + 2 * 10 + _MAX_VERSION + _MAX_MODINFO
    while True:
        position = window.find(BUILDINFO_MAGIC, max(0, searched_to - window_start))
        while position >= 0:
            offset = window_start + position
            if offset % _ALIGN == 0:
                # Make sure the whole candidate (header and bounded strings) is in the window.
                while len(window) - position < need and consumed < max_bytes:
                    chunk = stream.read(min(_CHUNK, max_bytes - consumed))
                    if not chunk:
                        break
                    consumed += len(chunk)
                    window += chunk
                info = parse_buildinfo(window[position : position + need])
                if info is not None:
                    return info
            position = window.find(BUILDINFO_MAGIC, position + 1)
        searched_to = window_start + max(0, len(window) - len(BUILDINFO_MAGIC) + 1)
        if consumed >= max_bytes:
            return None
        chunk = stream.read(min(_CHUNK, max_bytes - consumed))
        if not chunk:
            return None
        consumed += len(chunk)
        # Keep the tail that could start a magic string split across chunks.
        keep = window[-(len(BUILDINFO_MAGIC) - 1) :] if window else b""
        window_start += len(window) - len(keep)
        window = keep + chunk


def parse_buildinfo(data: bytes) -> BuildInfo | None:
    """Decode a `.go.buildinfo` header and its inline strings, or None if `data` is not one."""
    if len(data) < _HEADER_SIZE or not data.startswith(BUILDINFO_MAGIC):
        return None
    pointer_size, flags = data[14], data[15]
    if pointer_size not in (4, 8) or not flags & _FLAG_INLINE_STRINGS:
        return None
    version_bytes, rest = _read_string(data[_HEADER_SIZE:], _MAX_VERSION)
    if version_bytes is None:
        return None
    version = version_bytes.decode("utf-8", "replace")
    if not version.startswith(("go", "devel")) or not version.isprintable():
        return None
    modinfo, _ = _read_string(rest, _MAX_MODINFO)
    if modinfo is None:
        return None
    # The linker wraps the module information in two 16-byte binary sentinels.
    if len(modinfo) >= 2 * _SENTINEL + 1 and modinfo[-_SENTINEL - 1 : -_SENTINEL] == b"\n":
        modinfo = modinfo[_SENTINEL:-_SENTINEL]
    return BuildInfo(version, modinfo.decode("utf-8", "replace"))


def _read_string(data: bytes, limit: int) -> tuple[bytes | None, bytes]:
    length, shift, index = 0, 0, 0
    while True:
        if index >= len(data) or index > 9:
            return None, b""
        byte = data[index]
        length |= (byte & 0x7F) << shift
        shift += 7
        index += 1
        if not byte & 0x80:
            break
    if length > limit or index + length > len(data):
        return None, b""
    return data[index : index + length], data[index + length :]


@dataclass(frozen=True)
class GoModule:
    """One Go module compiled into a binary, with its version as OSV writes it (no leading `v`)."""

    path: str
    version: str
    main: bool = False


def go_modules(info: BuildInfo) -> list[GoModule]:
    """The modules of a binary: the standard library (`stdlib`), the main module (if it has a
    released version, not `(devel)`) and each dependency, with `=>` replacements applied (a
    replacement by a local directory has no version and is left out: its code is not the module's).
    """
    modules: list[GoModule] = []
    stdlib = info.go_version.removeprefix("go").split(" ")[0].split("-")[0]
    if info.go_version.startswith("go") and stdlib and stdlib[0].isdigit():
        modules.append(GoModule("stdlib", stdlib))
    for line in info.modinfo.splitlines():
        fields = line.split("\t")
        if fields[0] in ("mod", "dep") and len(fields) >= 3:
            modules.append(GoModule(fields[1], fields[2], main=fields[0] == "mod"))
        elif fields[0] == "=>" and modules and modules[-1].path != "stdlib":
            replaced = modules.pop()
            if len(fields) >= 3 and fields[2]:
                modules.append(GoModule(fields[1], fields[2], main=replaced.main))
    return [
        GoModule(module.path, module.version.removeprefix("v"), module.main)
        for module in modules
        if module.version and module.version != "(devel)"
    ]
