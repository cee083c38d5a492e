"""The vulnerability database as a service over the metadata store: import OSV data, match inventories.

Imports are incremental and atomic: a record whose `modified` is not newer than the stored copy
is skipped, and the whole upload is stored in one transaction, so a malformed member anywhere
leaves the database as it was. Every import that changes records advances the database's
generation; `version()` names it, and each `MatchResult` carries the version its findings came
from, so a scan can say which contents produced it and a re-scan is due when the version moves.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from moorage.metadata import vulndb as queries
from moorage.metadata.database import Database
from moorage.metadata.vulndb import Generation, SourceRow, StoredRecord
from moorage.scanning.matching import Match, Unmatchable, lookup_keys, match_packages
from moorage.scanning.model import Finding, Inventory
from moorage.scanning.severity import alias_ids, rate
from moorage.scanning.vulndb.archive import InvalidArchive, read_records
from moorage.scanning.vulndb.staging import StagedRecords

BATCH = 1000
"""Records written per batch (one executemany per table)."""
ANALYZE_AFTER = 1000
"""Records stored by an import from which the planner's statistics are refreshed (`refresh_statistics`)."""
DEFAULT_MAX_IMPORT_BYTES = 1024 * 1024 * 1024
EMPTY = "empty"
"""The `database_version` of matches made before anything was imported."""
MAX_LINKS = 20
_SOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidSource(ValueError):
    """A source name that is not a short identifier (`debian`, `ghsa`, `osv-pypi`)."""


@dataclass(frozen=True)
class MatchResult:
    findings: tuple[Finding, ...]
    database_version: str
    """The database contents the findings came from (`EMPTY` when nothing was ever imported)."""
    unmatchable: tuple[Unmatchable, ...] = ()
    """Package and record pairs whose versions could not be compared (see `scanning/matching.py`)."""


@dataclass(frozen=True)
class ImportReport:
    source: str
    filename: str
    records_read: int
    records_added: int
    records_updated: int
    records_skipped: int
    """Not newer than the stored copy (or than another copy in the same upload)."""
    database_version: str | None
    imported_at: datetime
    seconds: float

    @property
    def changed(self) -> bool:
        return self.records_added + self.records_updated > 0


@dataclass(frozen=True)
class DatabaseStatus:
    version: str | None
    changed_at: datetime | None
    records: int
    withdrawn: int
    ecosystems: dict[str, int] = field(default_factory=dict)
    sources: tuple[SourceRow, ...] = ()


def version_name(generation: Generation | None) -> str | None:
    if generation is None:
        return None
    return f"{generation.number}-{generation.changed_at:%Y%m%dT%H%M%SZ}"


class VulnerabilityDatabase:
    """OSV records in the metadata store: `import_archive` writes them, `match` reads them."""

    def __init__(
        self,
        database: Database,
        staging_dir: Path | None = None,
        max_import_bytes: int = DEFAULT_MAX_IMPORT_BYTES,
    ) -> None:
        self.database = database
        self.staging_dir = staging_dir
        """Where the HTTP layer spools an upload before `import_archive` reads it (None: the system's)."""
        self.max_import_bytes = max_import_bytes

    def version(self) -> str | None:
        """The contents' version; None when nothing was ever imported."""
        with self.database.read() as connection:
            return version_name(queries.generation(connection))

    def import_archive(self, stream: IO[bytes], filename: str, source: str) -> ImportReport:
        """Store the records of an OSV `all.zip` or JSON file (a seekable stream) in one transaction.

        Raises `InvalidArchive` (nothing stored) for anything that is not OSV data, `InvalidSource`
        for a bad source name.
        """
        if not _SOURCE.match(source):
            raise InvalidSource("a source is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        started = time.monotonic()
        filename = _CONTROL.sub("", Path(filename).name)[:255] or "upload"
        counts = {"read": 0, "added": 0, "updated": 0, "skipped": 0}
        with StagedRecords(self.staging_dir) as staged:
            self._check_and_stage(stream, filename, staged, counts)
            if counts["read"] == 0:
                raise InvalidArchive(f"{filename}: holds no OSV records")
            with self.database.write() as connection:
                queries.lock_for_import(connection)
                written: set[str] = set()
                for batch in staged.batches():
                    self._write(connection, batch, source, counts, written)
                stored = counts["added"] + counts["updated"]
                if stored >= ANALYZE_AFTER:
                    queries.refresh_statistics(connection)
                generation = queries.advance_generation(connection) if stored else queries.generation(connection)
                imported_at = queries.record_import(connection, source, filename, counts["read"], stored)
        return ImportReport(
            source=source,
            filename=filename,
            records_read=counts["read"],
            records_added=counts["added"],
            records_updated=counts["updated"],
            records_skipped=counts["skipped"],
            database_version=version_name(generation),
            imported_at=imported_at,
            seconds=round(time.monotonic() - started, 3),
        )

    def _check_and_stage(self, stream: IO[bytes], filename: str, staged: StagedRecords, counts: dict[str, int]) -> None:
        """Read and check every record (no lock held); stage those newer than their stored copy."""
        seen: dict[str, datetime] = {}
        pending: list[StoredRecord] = []
        for record in read_records(stream, filename):
            counts["read"] += 1
            earlier = seen.get(record.id)
            if earlier is not None:  # two copies in one upload: the newest is the one stored
                counts["skipped"] += 1
                if record.modified <= earlier:
                    continue
            seen[record.id] = record.modified
            pending.append(record)
            if len(pending) >= BATCH:
                self._stage(pending, staged, counts)
                pending = []
        self._stage(pending, staged, counts)

    def _stage(self, batch: list[StoredRecord], staged: StagedRecords, counts: dict[str, int]) -> None:
        with self.database.read() as connection:
            stored = queries.stored_modified(connection, [record.id for record in batch])
        newer = [record for record in batch if record.id not in stored or record.modified > stored[record.id]]
        counts["skipped"] += len(batch) - len(newer)
        staged.add(newer)

    @staticmethod
    def _write(
        connection: Any, batch: list[StoredRecord], source: str, counts: dict[str, int], written: set[str]
    ) -> None:
        """Store a staged batch, re-checking `modified` against what is stored now (another import may have won)."""
        newest: dict[str, StoredRecord] = {}
        for record in batch:  # a later copy in the same batch is newer (staging kept only newer copies)
            newest[record.id] = record
        stored = queries.stored_modified(connection, list(newest))
        newer = [record for record in newest.values() if record.id not in stored or record.modified > stored[record.id]]
        newer_ids = {record.id for record in newer}
        counts["skipped"] += sum(1 for key in newest if key not in newer_ids and key not in written)
        for record in newer:
            if record.id in written:
                continue  # a second copy of this upload's own record: counted once already
            counts["updated" if record.id in stored else "added"] += 1
        written.update(record.id for record in newer)
        queries.replace_records(connection, newer, source, stored)

    def match(self, inventory: Inventory) -> MatchResult:
        """The findings of an inventory, and the database version they came from.

        Reads candidates by (ecosystem, name) through the index; if an import lands while it
        reads, it reads again, so the findings and the version always belong together.
        """
        keys = {(base, name) for package in inventory.packages for base, name, _, _ in lookup_keys(package)}
        for _ in range(5):
            with self.database.read() as connection:
                before = queries.generation(connection)
                records = _parsed(queries.candidates(connection, keys)) if before is not None else []
                outcome = match_packages(inventory.packages, records)
                wanted = [alias for m in outcome.matches for alias in alias_ids(m.record)]
                aliases = _parsed(queries.documents(connection, wanted)) if wanted else []
                after = queries.generation(connection)
            if before == after:
                break
        by_id = {str(alias.get("id")): alias for alias in aliases}
        findings = tuple(_finding(found, by_id) for found in outcome.matches)
        ordered = tuple(sorted(findings, key=lambda f: (-f.severity.rank, f.vulnerability_id, f.package.name)))
        return MatchResult(ordered, version_name(after) or EMPTY, outcome.unmatchable)

    def status(self) -> DatabaseStatus:
        with self.database.read() as connection:
            generation = queries.generation(connection)
            records, withdrawn = queries.record_count(connection)
            ecosystems = queries.records_per_ecosystem(connection)
            sources = tuple(queries.sources(connection))
        return DatabaseStatus(
            version=version_name(generation),
            changed_at=generation.changed_at if generation is not None else None,
            records=records,
            withdrawn=withdrawn,
            ecosystems=ecosystems,
            sources=sources,
        )


def _parsed(documents: Mapping[str, str]) -> list[dict[str, Any]]:
    parsed = []
    for text in documents.values():
        try:
            document = json.loads(text)
        except ValueError:  # stored by this importer, so valid; a hand-edited row is skipped, not fatal
            continue
        if isinstance(document, dict):
            parsed.append(document)
    return parsed


def _finding(found: Match, aliases: Mapping[str, Mapping[str, Any]]) -> Finding:
    record = found.record
    named = alias_ids(record)
    rating = rate(record, found.affected, [aliases[name] for name in named if name in aliases])
    return Finding(
        vulnerability_id=found.vulnerability_id,
        package=found.package,
        severity=rating.severity,
        aliases=tuple(named),
        summary=_summary(record),
        fixed_version=found.fixed_version,
        cvss_score=rating.cvss_score,
        cvss_vector=rating.cvss_vector,
        severity_source=rating.source,
        links=_links(record),
    )


def _summary(record: Mapping[str, Any]) -> str:
    for key in ("summary", "details"):
        text = record.get(key)
        if isinstance(text, str) and text.strip():
            line = text.strip().splitlines()[0]
            return line if len(line) <= 200 else line[:197] + "..."
    return ""


def _links(record: Mapping[str, Any]) -> tuple[str, ...]:
    links: list[str] = []
    for reference in record.get("references") or []:
        url = reference.get("url") if isinstance(reference, Mapping) else None
        if isinstance(url, str) and url.startswith(("https://", "http://")) and url not in links:
            links.append(url)
    return tuple(links[:MAX_LINKS])
