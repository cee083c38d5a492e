"""The audit log's hash chain: the canonical encoding of an entry, its hash, and how a break is named.

Each entry carries `prev_hash`, the hash of the entry before it (`GENESIS` for the first), and
`hash`, SHA-256 (lower-case hex) over the entry's canonical encoding, which includes `prev_hash`:

- a JSON object of exactly the fields in `CANONICAL_FIELDS`, keys sorted, no whitespace
  (separators `,` and `:`), non-ASCII characters as UTF-8 (not `\\u` escapes), UTF-8 bytes;
- `at` as RFC 3339 UTC with microseconds and `Z` (`2026-12-05T22:01:29.123456Z`); a time
  stored without a zone is UTC;
- `detail` encoded the same way (sorted keys, no whitespace) or `null`; absent values are `null`.

Changing one stored field changes that entry's hash; removing or inserting an entry breaks the
next entry's `prev_hash` (or the chain head kept in the database, or one kept elsewhere).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

GENESIS = "0" * 64
"""The `prev_hash` of the first entry of the chain."""
CANONICAL_FIELDS = (
    "id",
    "at",
    "action",
    "repository",
    "target",
    "outcome",
    "actor_kind",
    "actor_name",
    "actor_credential",
    "source_address",
    "detail",
    "prev_hash",
)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def rfc3339(moment: datetime) -> str:
    """One time format for the chain and the audit API: RFC 3339, UTC, microseconds, `Z`."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.strftime(TIME_FORMAT)


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The bytes an entry's hash is taken over (see the module docstring)."""
    document = {name: fields.get(name) for name in CANONICAL_FIELDS}
    document["at"] = rfc3339(document["at"]) if isinstance(document["at"], datetime) else document["at"]
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(fields)).hexdigest()


Problem = Literal["changed", "removed", "inserted", "head"]


@dataclass(frozen=True)
class ChainBreak:
    """The first place the chain does not hold: which entry, and what was done to it."""

    id: int | None
    problem: Problem
    message: str


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head_id: int | None
    head_hash: str
    first_break: ChainBreak | None

    @property
    def valid(self) -> bool:
        return self.first_break is None
