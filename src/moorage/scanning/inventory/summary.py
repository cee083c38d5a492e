"""What one layer contributes to an image's inventory: the evidence it writes and what it deletes.

A layer is read once; what matters of it fits in a `LayerSummary`, which is cached by layer digest
(a layer shared by many images is read once for all of them). The summary keeps only the files the
inventory needs, trimmed to what the parsers read, and the paths that hide lower layers' files:

- `files`: path -> `FileRecord`. Text files (os-release, dpkg `status`, apk `installed`, Python
  `METADATA`, `package.json`…) are kept as trimmed text; binary formats are kept as the small record
  extracted from them (an rpm database's packages, a Go binary's build info, a jar's Maven metadata),
  as JSON.
- `hidden`: paths of this layer that are not evidence but replace whatever a lower layer had there
  (a symlink over `etc/os-release`, a shell script over a Go binary, an oversized `METADATA`).
- `whiteouts` and `opaque_dirs`: the OCI image-spec deletions (`.wh.NAME`, `.wh..wh..opq`), as the
  paths they delete and the directories they empty.

The JSON form carries `SCHEMA_VERSION`; a cached summary of another version is ignored (read again),
so a fix to what is extracted takes effect by bumping it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar


class RecordKind(StrEnum):
    """How a `FileRecord`'s content is to be read."""

    TEXT = "text"
    """The file's own text, possibly trimmed to the lines the parser reads."""
    RPMDB = "rpmdb"
    """JSON: the packages of an rpm database (`rpm.RpmPackage` fields)."""
    GO_BUILDINFO = "go-buildinfo"
    """JSON: `{"go": "go1.22.1", "modinfo": "path\\t…\\nmod\\t…"}` from a Go binary."""
    JAR = "jar"
    """JSON: `{"entries": [[name, text], …], "nested": {jar name: {"entries": …}}}` of a Java archive."""


@dataclass(frozen=True)
class FileRecord:
    """The part of one file that the inventory reads."""

    kind: RecordKind
    content: str

    def json(self) -> Any:
        """The decoded content of a JSON kind."""
        return json.loads(self.content)


class SummaryFormatError(ValueError):
    """A cached summary that cannot be read (corrupt, or written by another schema version)."""


@dataclass(frozen=True)
class LayerSummary:
    """The evidence one layer writes and the paths it hides or deletes (see the module docstring)."""

    SCHEMA_VERSION: ClassVar[int] = 1

    files: Mapping[str, FileRecord] = field(default_factory=dict)
    hidden: tuple[str, ...] = ()
    whiteouts: tuple[str, ...] = ()
    opaque_dirs: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(
            {
                "schema": self.SCHEMA_VERSION,
                "files": {path: [record.kind.value, record.content] for path, record in sorted(self.files.items())},
                "hidden": list(self.hidden),
                "whiteouts": list(self.whiteouts),
                "opaque_dirs": list(self.opaque_dirs),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> LayerSummary:
        """The summary `to_json` wrote; `SummaryFormatError` if it is unreadable or of another version."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("schema") != cls.SCHEMA_VERSION:
                raise SummaryFormatError(f"not a layer summary of schema version {cls.SCHEMA_VERSION}")
            files = {
                str(path): FileRecord(RecordKind(kind), str(content)) for path, (kind, content) in data["files"].items()
            }
            return cls(
                files=files,
                hidden=tuple(str(path) for path in data["hidden"]),
                whiteouts=tuple(str(path) for path in data["whiteouts"]),
                opaque_dirs=tuple(str(path) for path in data["opaque_dirs"]),
            )
        except SummaryFormatError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise SummaryFormatError(f"unreadable layer summary: {error}") from error
