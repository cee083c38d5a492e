"""Reading OSV data as published: a per-ecosystem `all.zip` export, or a loose record file.

An `all.zip` (https://osv-vulnerabilities.storage.googleapis.com/<ecosystem>/all.zip) holds one
`<id>.json` per record; members that are not `.json` files are ignored. A loose file holds one
record (an object), a list of records, or an OSV API answer (`{"vulns": [...]}`).

Everything is checked before anything is written: a record without an `id` or an RFC 3339
`modified`, an `affected` entry whose package has no ecosystem or name, a member that is not JSON,
a broken zip — each is `InvalidArchive` naming the member, and the import stores nothing.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import IO, Any

from moorage.metadata.vulndb import StoredRecord
from moorage.scanning.matching import normalise_name, split_ecosystem

MAX_RECORD_BYTES = 16 * 1024 * 1024
"""No published OSV record comes near this; a larger member is refused (a zip bomb, not advice)."""

_LIMITS = {"id": 255, "ecosystem": 64, "release": 255, "name": 512}
_FRACTION = re.compile(r"(\.\d{6})\d+")


class InvalidArchive(Exception):
    """The upload is not OSV data this importer accepts; the message says where and why."""


def read_records(stream: IO[bytes], filename: str) -> Iterator[StoredRecord]:
    """The records of a zip archive or a JSON file (told apart by content, not by name)."""
    stream.seek(0)
    magic = stream.read(4)
    stream.seek(0)
    if magic.startswith(b"PK"):
        yield from _zip_records(stream, filename)
        return
    data = stream.read(MAX_RECORD_BYTES * 4 + 1)
    if len(data) > MAX_RECORD_BYTES * 4:
        raise InvalidArchive(f"{filename}: a JSON file this large is not an OSV record; import an all.zip")
    yield from _file_records(data, filename)


def _zip_records(stream: IO[bytes], filename: str) -> Iterator[StoredRecord]:
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise InvalidArchive(f"{filename}: not a readable zip archive ({error})") from None
    with archive:
        for member in archive.infolist():
            if member.is_dir() or not member.filename.endswith(".json"):
                continue
            where = f"{filename}:{member.filename}"
            if member.file_size > MAX_RECORD_BYTES:
                raise InvalidArchive(f"{where}: {member.file_size} bytes is too large for an OSV record")
            try:
                with archive.open(member) as opened:
                    data = opened.read(MAX_RECORD_BYTES + 1)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as error:
                raise InvalidArchive(f"{where}: cannot be read ({error})") from None
            if len(data) > MAX_RECORD_BYTES:
                raise InvalidArchive(f"{where}: too large for an OSV record")
            yield record_from_json(data, where)


def _file_records(data: bytes, filename: str) -> Iterator[StoredRecord]:
    document = _json(data, filename)
    if isinstance(document, Mapping) and "id" not in document and isinstance(document.get("vulns"), list):
        document = document["vulns"]
    if isinstance(document, list):
        for index, item in enumerate(document):
            yield stored_record(item, f"{filename}[{index}]", _dump(item))
    else:
        yield stored_record(document, filename, data.decode("utf-8"))


def _json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidArchive(f"{where}: not valid JSON ({error})") from None


def _dump(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def record_from_json(data: bytes, where: str) -> StoredRecord:
    """One record from its file's bytes; the stored document is those bytes as text."""
    document = _json(data, where)
    return stored_record(document, where, data.decode("utf-8"))


def parse_time(value: object, where: str, field: str) -> datetime:
    """An RFC 3339 timestamp of a record (`2024-01-02T03:04:05.123456789Z`), in UTC."""
    if not isinstance(value, str) or not value:
        raise InvalidArchive(f"{where}: `{field}` must be an RFC 3339 timestamp")
    text = _FRACTION.sub(r"\1", value.strip()).replace("z", "Z")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArchive(f"{where}: `{field}` {value[:64]!r} is not an RFC 3339 timestamp") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def stored_record(document: Any, where: str, text: str) -> StoredRecord:
    """Check one record's shape (what matching relies on) and derive what the index stores."""
    if not isinstance(document, Mapping):
        raise InvalidArchive(f"{where}: an OSV record is a JSON object")
    record_id = document.get("id")
    if not isinstance(record_id, str) or not record_id.strip() or len(record_id) > _LIMITS["id"]:
        raise InvalidArchive(f"{where}: `id` must be a non-empty string of at most {_LIMITS['id']} characters")
    where = f"{where} ({record_id})"
    modified = parse_time(document.get("modified"), where, "modified")
    affected = document.get("affected", [])
    if affected is None:
        affected = []
    if not isinstance(affected, list):
        raise InvalidArchive(f"{where}: `affected` must be a list")
    packages: set[tuple[str, str, str]] = set()
    for entry in affected:
        if not isinstance(entry, Mapping):
            raise InvalidArchive(f"{where}: each `affected` entry must be an object")
        for key in ("ranges", "versions"):
            if key in entry and entry[key] is not None and not isinstance(entry[key], list):
                raise InvalidArchive(f"{where}: `affected[].{key}` must be a list")
        package = entry.get("package")
        if package is None:
            continue  # GIT-only entries name a repository, not a package: nothing to index
        packages.add(_package_key(package, where))
    withdrawn = document.get("withdrawn")
    return StoredRecord(record_id, modified, bool(withdrawn), text, tuple(sorted(packages)))


def _package_key(package: Any, where: str) -> tuple[str, str, str]:
    if not isinstance(package, Mapping):
        raise InvalidArchive(f"{where}: `affected[].package` must be an object")
    ecosystem, name = package.get("ecosystem"), package.get("name")
    if not isinstance(ecosystem, str) or not isinstance(name, str) or not ecosystem or not name:
        raise InvalidArchive(f"{where}: `affected[].package` needs an `ecosystem` and a `name`")
    base, release = split_ecosystem(ecosystem)
    normalised = normalise_name(base, name)
    for field, value in (("ecosystem", base), ("release", release), ("name", normalised)):
        if len(value) > _LIMITS[field]:
            raise InvalidArchive(f"{where}: package {field} longer than {_LIMITS[field]} characters")
    return base, release, normalised
