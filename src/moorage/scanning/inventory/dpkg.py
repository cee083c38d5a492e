"""dpkg's database: `var/lib/dpkg/status` (and distroless' one-file-per-package `status.d/`).

A package counts when its `Status` says `installed` (removed packages whose configuration remains,
`deinstall ok config-files`, do not); a `status.d` stanza without `Status` counts (distroless writes
none). `Source: NAME (VERSION)` names the source package, with its version when it differs from the
binary's (a binNMU); without `Source` the source package has the binary's name and version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class DpkgPackage:
    name: str
    version: str
    architecture: str
    source_name: str
    source_version: str


def stanzas(text: str) -> list[dict[str, str]]:
    """The `Field: value` paragraphs of a deb822 text (continuation lines are not kept)."""
    result: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if current:
                result.append(current)
            current = {}
        elif not line[0].isspace() and ":" in line:
            key, _, value = line.partition(":")
            current[key.strip()] = value.strip()
    return result


_SOURCE = re.compile(r"^(?P<name>\S+)(?:\s+\((?P<version>[^)]+)\))?$")


def parse_status(text: str) -> list[DpkgPackage]:
    packages: list[DpkgPackage] = []
    for stanza in stanzas(text):
        name, version = stanza.get("Package", ""), stanza.get("Version", "")
        status = stanza.get("Status")
        if not name or not version or (status is not None and status.split()[-1:] != ["installed"]):
            continue
        source_name, source_version = name, version
        match = _SOURCE.match(stanza.get("Source", ""))
        if match:
            source_name = match["name"]
            source_version = match["version"] or version
        packages.append(DpkgPackage(name, version, stanza.get("Architecture", ""), source_name, source_version))
    return packages
