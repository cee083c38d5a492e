"""Java archives: the Maven coordinates a jar (war, ear) states about itself and the jars inside it.

A jar is a zip, whose directory sits at its end, so it cannot be read from a stream: it is spooled
to a temporary file (in memory while small), bounded in size. Kept of it are `pom.properties` under
`META-INF/maven/` (one per artifact shaded into the jar) and `META-INF/MANIFEST.MF`, each bounded,
and the same of the jars it contains (Spring Boot's `BOOT-INF/lib/`, a war's `WEB-INF/lib/`), one
level deep: a jar inside a nested jar is not opened. Declared sizes are checked before reading and
reads are bounded again, so a zip bomb costs at most the bounds.

Coordinates come from each `pom.properties` (`groupId`, `artifactId`, `version`); a jar without
one falls back to its manifest's `Implementation-Vendor-Id` (or `Bundle-SymbolicName`) for the
group and the file name `ARTIFACT-VERSION.jar` for the rest, when the manifest's version agrees.
"""

from __future__ import annotations

import io
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any

MAX_METADATA_ENTRY = 64 << 10
MAX_NESTED_JAR = 64 << 20
MAX_NESTED_JARS = 2000
MAX_ENTRIES = 200_000
_SPOOL_IN_MEMORY = 8 << 20


class ArchiveTooLarge(Exception):
    """A jar above the size bound; it is skipped."""


def read_jar(stream: IO[bytes], size: int, *, max_bytes: int) -> dict[str, Any] | None:
    """The metadata record of the jar read from `stream` (`size` bytes), or None if it is not a zip."""
    if size > max_bytes:
        raise ArchiveTooLarge(f"{size} bytes is more than the {max_bytes} a jar may have")
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
        shutil.copyfileobj(_Bounded(stream, max_bytes), spool)
        spool.seek(0)
        return _read_zip(spool, nested=True)


def _read_zip(file: IO[bytes], *, nested: bool) -> dict[str, Any] | None:
    try:
        with zipfile.ZipFile(file) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ENTRIES:
                return None
            entries: list[list[str]] = []
            inner: dict[str, Any] = {}
            for info in infos:
                name = info.filename
                if _is_metadata(name) and info.file_size <= MAX_METADATA_ENTRY:
                    entries.append([name, _read_entry(archive, info, MAX_METADATA_ENTRY).decode("utf-8", "replace")])
                elif nested and name.endswith(".jar") and info.file_size <= MAX_NESTED_JAR:
                    if len(inner) >= MAX_NESTED_JARS:
                        continue
                    content = _read_entry(archive, info, MAX_NESTED_JAR)
                    record = _read_zip(io.BytesIO(content), nested=False)
                    if record is not None:
                        inner[name] = record
            result: dict[str, Any] = {"entries": entries}
            if inner:
                result["nested"] = inner
            return result
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, ValueError):
        return None


def _is_metadata(name: str) -> bool:
    return name == "META-INF/MANIFEST.MF" or (name.startswith("META-INF/maven/") and name.endswith("/pom.properties"))


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    with archive.open(info) as entry:
        return entry.read(limit)


class _Bounded(io.RawIOBase):
    """Reads from `stream` and fails once more than `limit` bytes came through."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream, self._left = stream, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(min(len(buffer), self._left + 1))
        if len(data) > self._left:
            raise ArchiveTooLarge("the jar is longer than its bound")
        self._left -= len(data)
        buffer[: len(data)] = data
        return len(data)


@dataclass(frozen=True)
class MavenArtifact:
    group_id: str
    artifact_id: str
    version: str
    inner_path: str = ""
    """The nested jar it came from (`BOOT-INF/lib/x.jar`), empty for the jar itself."""

    @property
    def name(self) -> str:
        """OSV's Maven package name: `groupId:artifactId`."""
        return f"{self.group_id}:{self.artifact_id}"


def maven_artifacts(jar_path: str, record: dict[str, Any]) -> list[MavenArtifact]:
    """The artifacts a jar record names: its own and those of its nested jars."""
    found = _artifacts(PurePosixPath(jar_path).name, record, "")
    for inner_name, inner_record in sorted(record.get("nested", {}).items()):
        found.extend(_artifacts(PurePosixPath(inner_name).name, inner_record, inner_name))
    return found


def _artifacts(file_name: str, record: dict[str, Any], inner_path: str) -> list[MavenArtifact]:
    found: list[MavenArtifact] = []
    manifest: dict[str, str] = {}
    for name, text in record.get("entries", []):
        if name.endswith("pom.properties"):
            properties = _properties(text)
            group, artifact, version = (properties.get(key, "") for key in ("groupId", "artifactId", "version"))
            if group and artifact and version:
                found.append(MavenArtifact(group, artifact, version, inner_path))
        else:
            manifest = _manifest(text)
    if found:
        return found
    fallback = _from_manifest(file_name, manifest, inner_path)
    return [fallback] if fallback else []


_FILE_NAME = re.compile(r"^(?P<artifact>[A-Za-z0-9_.\-]+?)-(?P<version>\d[A-Za-z0-9_.\-+]*)\.[jwe]ar$")


def _from_manifest(file_name: str, manifest: dict[str, str], inner_path: str) -> MavenArtifact | None:
    match = _FILE_NAME.match(file_name)
    group = manifest.get("Implementation-Vendor-Id") or ""
    if not group and "Bundle-SymbolicName" in manifest:
        symbolic = manifest["Bundle-SymbolicName"].split(";")[0].strip()
        group = symbolic.rsplit(".", 1)[0] if "." in symbolic else ""
    version = manifest.get("Implementation-Version") or manifest.get("Bundle-Version") or ""
    if not match or not group or match["version"] != version:
        return None
    return MavenArtifact(group, match["artifact"], version, inner_path)


def _properties(text: str) -> dict[str, str]:
    """Java `.properties` as Maven writes `pom.properties` (`key=value`, `#` comments)."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, separator, value = line.partition("=")
        if not separator:
            key, separator, value = line.partition(":")
        if separator:
            result[key.strip()] = value.strip()
    return result


def _manifest(text: str) -> dict[str, str]:
    """The main section of a `MANIFEST.MF` (continuation lines start with one space)."""
    result: dict[str, str] = {}
    last = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line:
            break  # the main section ends at the first blank line
        if line.startswith(" ") and last:
            result[last] += line[1:]
            continue
        key, separator, value = line.partition(":")
        if separator:
            last = key.strip()
            result[last] = value.strip()
    return result
