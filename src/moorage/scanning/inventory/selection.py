"""Which files of a layer the inventory keeps, and the trimmed text it keeps of them.

A path is chosen by its name alone (`classify`); the content is then trimmed to the lines the
parsers read (`trim`), so a cached summary stays small: a Debian `status` loses its descriptions, an
apk `installed` its checksums, a `METADATA` its long description, a dpkg `.list` its directories.
Go binaries (found by their ELF magic, not their name) and jars have modules of their own.
"""

from __future__ import annotations

import json
import re
from enum import Enum, auto
from pathlib import PurePosixPath

DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_DIR = "var/lib/dpkg/status.d/"
DPKG_INFO_DIR = "var/lib/dpkg/info/"
APK_INSTALLED = "lib/apk/db/installed"
RPMDB_SQLITE_PATHS = ("var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite")
OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")
DEBIAN_VERSION = "etc/debian_version"
ALPINE_RELEASE = "etc/alpine-release"
JAR_SUFFIXES = (".jar", ".war", ".ear")


class Interest(Enum):
    """What a path may hold, judged by its name."""

    DISTRO = auto()
    DPKG_STATUS = auto()
    DPKG_FILES = auto()
    """A dpkg `info/*.list` or `*.md5sums` (`status.d/*.md5sums` in distroless): the files a package owns."""
    APK_INSTALLED = auto()
    RPMDB = auto()
    PYTHON = auto()
    NPM = auto()
    JAR = auto()


# A node_modules package root: node_modules/NAME/package.json or node_modules/@SCOPE/NAME/package.json.
_NPM_PACKAGE = re.compile(r"(^|/)node_modules/(@[^/]+/)?[^/@][^/]*/package\.json$")


def classify(path: str) -> Interest | None:
    """What `path` (normalised, relative to the root) may hold, or None if the inventory ignores it."""
    if path in OS_RELEASE_PATHS or path in (DEBIAN_VERSION, ALPINE_RELEASE):
        return Interest.DISTRO
    if path == DPKG_STATUS:
        return Interest.DPKG_STATUS
    if path.startswith(DPKG_STATUS_DIR) and "/" not in path[len(DPKG_STATUS_DIR) :]:
        return Interest.DPKG_FILES if path.endswith(".md5sums") else Interest.DPKG_STATUS
    if path.startswith(DPKG_INFO_DIR) and path.endswith((".list", ".md5sums")):
        return Interest.DPKG_FILES if "/" not in path[len(DPKG_INFO_DIR) :] else None
    if path == APK_INSTALLED:
        return Interest.APK_INSTALLED
    if path in RPMDB_SQLITE_PATHS:
        return Interest.RPMDB
    parts = PurePosixPath(path).parts
    if len(parts) >= 2 and (
        (parts[-2].endswith(".dist-info") and parts[-1] == "METADATA")
        or (parts[-2].endswith(".egg-info") and parts[-1] == "PKG-INFO")
    ):
        return Interest.PYTHON
    if parts and parts[-1].endswith(".egg-info"):
        return Interest.PYTHON  # a single-file egg-info (distutils' install_egg_info)
    if _NPM_PACKAGE.search(path):
        return Interest.NPM
    if path.endswith(JAR_SUFFIXES):
        return Interest.JAR
    return None


def trim(interest: Interest, text: str) -> str | None:
    """The part of a text file the parsers read, or None if it is not what its name promises."""
    if interest is Interest.DPKG_STATUS:
        return _keep_fields(text, ("Package", "Status", "Version", "Architecture", "Source"))
    if interest is Interest.APK_INSTALLED:
        return "\n".join(line for line in text.splitlines() if line == "" or line[:2] in _APK_KEYS)
    if interest is Interest.DPKG_FILES:
        return _owned_files(text)
    if interest is Interest.PYTHON:
        headers = text.replace("\r\n", "\n").split("\n\n", 1)[0]
        return _keep_fields(headers, ("Metadata-Version", "Name", "Version"))
    if interest is Interest.NPM:
        return _npm_fields(text)
    return text


_APK_KEYS = frozenset({"P:", "V:", "A:", "o:", "R:", "F:"})


def _keep_fields(text: str, names: tuple[str, ...]) -> str:
    """Only the RFC 822-style `Name: value` lines of `names` (and the blank lines between stanzas)."""
    prefixes = tuple(name + ":" for name in names)
    kept = [line for line in text.splitlines() if line.strip() == "" or line.startswith(prefixes)]
    return "\n".join("" if line.strip() == "" else line for line in kept)


def _owned_files(text: str) -> str:
    """The file paths of a dpkg `.list` (directories dropped) or `.md5sums` (checksums dropped)."""
    paths: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        # md5sums lines are "<32 hex>  path/relative/to/root"; list lines are absolute paths.
        if len(line) > 34 and line[32:34] == "  " and re.fullmatch(r"[0-9a-f]{32}", line[:32]):
            line = line[34:]
        paths.append("/" + line.strip().lstrip("/"))
    ordered = sorted(set(paths))
    # A line that is the parent directory of the next one is a directory, not a file the package owns.
    files = [
        path
        for path, following in zip(ordered, [*ordered[1:], ""], strict=True)
        if not following.startswith(path + "/")
    ]
    return "\n".join(files)


def _npm_fields(text: str) -> str | None:
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    kept = {key: document[key] for key in ("name", "version", "private") if key in document}
    return json.dumps(kept, sort_keys=True)
