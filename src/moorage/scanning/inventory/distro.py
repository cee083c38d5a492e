"""The distribution of an image's final file system.

`etc/os-release` wins over `usr/lib/os-release` (os-release(5): the first is the administrator's,
the second the vendor's fallback); without either, `etc/debian_version` means Debian and
`etc/alpine-release` Alpine, with the file's contents as the version. A symlinked `etc/os-release`
(Debian's points at `../usr/lib/os-release`) is not followed: the vendor file is read instead.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from moorage.scanning.inventory.selection import ALPINE_RELEASE, DEBIAN_VERSION, OS_RELEASE_PATHS
from moorage.scanning.model import Distro


def parse_os_release(text: str) -> dict[str, str]:
    """`KEY=value` lines with shell quoting, comments and blank lines ignored (os-release(5))."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            words = shlex.split(raw, posix=True)
        except ValueError:
            continue
        values[key.strip()] = " ".join(words)
    return values


def detect_distro(texts: Mapping[str, str]) -> Distro | None:
    """The distribution named by the text files of the final file system (path -> contents)."""
    for path in OS_RELEASE_PATHS:
        if path in texts:
            fields = parse_os_release(texts[path])
            distro_id = fields.get("ID", "").strip().lower()
            if distro_id:
                version = fields.get("VERSION_ID", "").strip() or _fallback_version(distro_id, texts)
                return Distro(distro_id, version, fields.get("PRETTY_NAME") or None)
    if DEBIAN_VERSION in texts:
        return Distro("debian", texts[DEBIAN_VERSION].strip())
    if ALPINE_RELEASE in texts:
        return Distro("alpine", texts[ALPINE_RELEASE].strip())
    return None


def _fallback_version(distro_id: str, texts: Mapping[str, str]) -> str:
    """Debian testing and sid have no VERSION_ID; their `debian_version` (`trixie/sid`) says more."""
    if distro_id == "debian" and DEBIAN_VERSION in texts:
        return texts[DEBIAN_VERSION].strip()
    if distro_id == "alpine" and ALPINE_RELEASE in texts:
        return texts[ALPINE_RELEASE].strip()
    return ""
