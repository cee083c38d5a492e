"""Importing OSV data into the metadata store and matching from it (scanning/vulndb), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from moorage.metadata.database import Database
from moorage.metadata.vulndb import stored_modified
from moorage.metadata.vulndb_schema import (
    vulnerability_database_state,
    vulnerability_packages,
    vulnerability_records,
    vulnerability_sources,
)
from moorage.scanning.model import Distro, Inventory, Package, Severity
from moorage.scanning.vulndb import EMPTY, InvalidArchive, InvalidSource, VulnerabilityDatabase
from tests.support.server import postgres_database
from tests.unit.scanning.test_matching import DATA, record

REAL = sorted(path for path in (DATA / "real").glob("*.json") if path.name != "DSA-3029-1.json")
SYNTHETIC = sorted((DATA / "synthetic").glob("*.json"))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """One migrated store per backend for the module; `vulndb` empties its tables for each test."""
    if request.param == "sqlite":
        found = Database(f"sqlite:///{tmp_path_factory.mktemp('vulndb') / 'metadata.db'}")
        found.migrate()
        yield found
        found.dispose()
        return
    with postgres_database() as url:
        found = Database(url)
        found.migrate()
        yield found
        found.dispose()


@pytest.fixture
def vulndb(database: Database) -> VulnerabilityDatabase:
    with database.write() as connection:
        for table in (
            vulnerability_packages,
            vulnerability_records,
            vulnerability_sources,
            vulnerability_database_state,
        ):
            connection.execute(sa.delete(table))
    return VulnerabilityDatabase(database)


def zipped(*documents: dict[str, Any] | bytes, names: list[str] | None = None) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for index, document in enumerate(documents):
            data = document if isinstance(document, bytes) else json.dumps(document).encode()
            name = names[index] if names else f"{index}.json"
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


def files(*paths: Path) -> io.BytesIO:
    return zipped(*(path.read_bytes() for path in paths), names=[path.name for path in paths])


def image(*packages: Package) -> Inventory:
    return Inventory(Distro("debian", "12"), packages)


JINJA = Package("Jinja2", "3.1.2", "PyPI", "pkg:pypi/jinja2@3.1.2")
LIBCRYPTO = Package(
    "libcrypto3", "3.3.2-r0", "Alpine:v3.20", "pkg:apk/alpine/libcrypto3@3.3.2-r0", source_name="openssl"
)


def test_an_all_zip_is_imported_and_matched(vulndb: VulnerabilityDatabase) -> None:
    assert vulndb.version() is None
    report = vulndb.import_archive(files(*REAL, *SYNTHETIC), "all.zip", "test")
    assert (report.records_read, report.records_added, report.records_skipped) == (len(REAL) + len(SYNTHETIC), 10, 0)
    assert report.database_version == vulndb.version() is not None
    result = vulndb.match(image(JINJA, LIBCRYPTO))
    assert result.database_version == report.database_version
    found = {(f.vulnerability_id, f.package.name): f for f in result.findings}
    jinja = found["GHSA-h5c8-rqwp-cp95", "Jinja2"]
    assert (jinja.severity, jinja.severity_source, jinja.fixed_version) == (Severity.MEDIUM, "cvss_v3", "3.1.3")
    assert jinja.aliases == ("CVE-2024-22195",) and jinja.summary.startswith("Jinja vulnerable")
    assert "https://nvd.nist.gov/vuln/detail/CVE-2024-22195" in jinja.links
    alpine = found["MOORAGE-TEST-ALPINE-1", "libcrypto3"]  # rated through the upstream record in the database
    assert (alpine.severity, alpine.severity_source) == (Severity.CRITICAL, "alias:MOORAGE-TEST-CVE-1")
    assert [f.severity for f in result.findings] == sorted((f.severity for f in result.findings), key=lambda s: -s.rank)


def test_loose_json_files_import_one_record_a_list_or_an_api_answer(vulndb: VulnerabilityDatabase) -> None:
    one = (DATA / "real" / "GO-2020-0001.json").read_bytes()
    assert vulndb.import_archive(io.BytesIO(one), "GO-2020-0001.json", "go").records_added == 1
    listed = json.dumps([record("MOORAGE-TEST-RPM-1"), record("MOORAGE-TEST-LIMIT-1")]).encode()
    assert vulndb.import_archive(io.BytesIO(listed), "two.json", "mixed").records_added == 2
    answer = json.dumps({"vulns": [record("MOORAGE-TEST-DEBIAN-1")]}).encode()
    assert vulndb.import_archive(io.BytesIO(answer), "answer.json", "mixed").records_added == 1
    assert vulndb.status().records == 4


def test_an_import_skips_records_not_newer_than_the_stored_copy(vulndb: VulnerabilityDatabase) -> None:
    original = record("MOORAGE-TEST-DEBIAN-1")
    first = vulndb.import_archive(zipped(original), "a.zip", "debian")
    again = vulndb.import_archive(zipped(original), "a.zip", "debian")
    assert (again.records_added, again.records_updated, again.records_skipped) == (0, 0, 1)
    assert again.database_version == first.database_version  # nothing changed, same version
    older = {**original, "modified": "2020-01-01T00:00:00Z", "summary": "older"}
    assert vulndb.import_archive(zipped(older), "b.zip", "debian").records_skipped == 1
    newer = {**original, "modified": "2026-06-01T00:00:00.123456789Z", "summary": "newer"}
    updated = vulndb.import_archive(zipped(newer), "c.zip", "debian")
    assert (updated.records_updated, updated.records_skipped) == (1, 0)
    assert updated.database_version != first.database_version
    libssl = Package("libssl3", "3.0.1-1", "Debian:12", "pkg:deb/debian/libssl3@3.0.1-1", source_name="openssl")
    assert [f.summary for f in vulndb.match(image(libssl)).findings] == ["newer"]


def test_within_one_upload_the_newest_copy_of_a_record_wins(vulndb: VulnerabilityDatabase) -> None:
    original = record("MOORAGE-TEST-DEBIAN-1")
    newer = {**original, "modified": "2026-06-01T00:00:00Z", "summary": "newer"}
    report = vulndb.import_archive(zipped(newer, original), "dup.zip", "debian")
    assert (report.records_read, report.records_added, report.records_skipped) == (2, 1, 1)
    libssl = Package("openssl", "3.0.1-1", "Debian:12", "pkg:deb/debian/openssl@3.0.1-1")
    assert [f.summary for f in vulndb.match(image(libssl)).findings] == ["newer"]


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (zipped(record("MOORAGE-TEST-CVE-1"), b"{not json"), "not valid JSON"),
        (zipped(record("MOORAGE-TEST-CVE-1"), {"id": "X", "modified": "yesterday"}), "RFC 3339"),
        (zipped(record("MOORAGE-TEST-CVE-1"), {"modified": "2026-01-01T00:00:00Z"}), "`id`"),
        (
            zipped({"id": "X", "modified": "2026-01-01T00:00:00Z", "affected": [{"package": {"name": "n"}}]}),
            "ecosystem",
        ),
        (zipped({"id": "X", "modified": "2026-01-01T00:00:00Z", "affected": {"not": "a list"}}), "must be a list"),
        (zipped(b"[]"), "JSON object"),
        (io.BytesIO(b"PK\x03\x04 this is no zip"), "not a readable zip"),
        (zipped(names=[]), "no OSV records"),
        (io.BytesIO((DATA / "real" / "DSA-3029-1.json").read_bytes()), "`modified`"),
        (zipped({"id": "NUL\u0000ID", "modified": "2026-01-01T00:00:00Z"}), "printable"),
        (zipped({"id": "X", "modified": "9999-12-31T23:00:00-05:00"}), "RFC 3339"),
        (
            zipped(
                {
                    "id": "X",
                    "modified": "2026-01-01T00:00:00Z",
                    "affected": [{"package": {"ecosystem": "npm", "name": "a\nb"}}],
                }
            ),
            "control",
        ),
    ],
    ids=[
        "bad-json",
        "bad-time",
        "no-id",
        "no-ecosystem",
        "affected-not-list",
        "not-object",
        "bad-zip",
        "empty",
        "real-no-modified",
        "nul-in-id",
        "time-overflow",
        "control-in-name",
    ],
)
def test_malformed_data_is_refused_and_nothing_is_imported(
    vulndb: VulnerabilityDatabase, upload: io.BytesIO, message: str
) -> None:
    upload.seek(0)
    with pytest.raises(InvalidArchive, match=message):
        vulndb.import_archive(upload, "upload.zip", "test")
    status = vulndb.status()
    assert (status.records, status.version, status.sources) == (0, None, ())


def test_a_bad_member_after_good_batches_rolls_the_whole_upload_back(vulndb: VulnerabilityDatabase) -> None:
    good = [{"id": f"TEST-{n}", "modified": "2026-01-01T00:00:00Z"} for n in range(1100)]  # more than one batch
    with pytest.raises(InvalidArchive):
        vulndb.import_archive(zipped(*good, b"broken"), "big.zip", "test")
    assert vulndb.status().records == 0 and vulndb.version() is None


def test_a_source_name_must_be_a_short_identifier(vulndb: VulnerabilityDatabase) -> None:
    with pytest.raises(InvalidSource):
        vulndb.import_archive(zipped(record("MOORAGE-TEST-CVE-1")), "a.zip", "../etc")


def test_withdrawn_records_are_stored_and_never_matched(vulndb: VulnerabilityDatabase) -> None:
    withdrawn = {**record("MOORAGE-TEST-RPM-1"), "withdrawn": "2026-02-01T00:00:00Z"}
    vulndb.import_archive(zipped(withdrawn), "w.zip", "rocky")
    libs = Package(
        "openssl-libs", "1:3.0.7-1.el9", "Rocky Linux:9", "pkg:rpm/rocky/openssl-libs", source_name="openssl"
    )
    assert vulndb.match(image(libs)).findings == ()
    assert vulndb.status().withdrawn == 1


def test_matching_before_any_import_finds_nothing_and_says_so(vulndb: VulnerabilityDatabase) -> None:
    result = vulndb.match(image(JINJA))
    assert (result.findings, result.database_version) == ((), EMPTY)


def test_status_counts_records_per_ecosystem_and_source(vulndb: VulnerabilityDatabase) -> None:
    vulndb.import_archive(files(*REAL), "real.zip", "real")
    vulndb.import_archive(files(*SYNTHETIC), "synthetic.zip", "synthetic")
    status = vulndb.status()
    assert status.ecosystems == {
        "Alpine": 1,
        "Debian": 1,
        "Go": 1,
        "Maven": 1,
        "PyPI": 2,
        "Rocky Linux": 1,
        "Ubuntu": 1,
        "npm": 1,
    }
    assert [(s.name, s.records, s.filename, s.imports) for s in status.sources] == [
        ("real", 4, "real.zip", 1),
        ("synthetic", 6, "synthetic.zip", 1),
    ]
    assert status.version == vulndb.version() and status.changed_at is not None


def test_a_newer_copy_in_a_later_batch_of_the_same_upload_replaces_the_earlier(vulndb: VulnerabilityDatabase) -> None:
    first = [{"id": f"TEST-{n}", "modified": "2026-01-01T00:00:00Z"} for n in range(1100)]
    again = {"id": "TEST-0", "modified": "2026-03-01T00:00:00Z", "summary": "the newer copy"}
    report = vulndb.import_archive(zipped(*first, again), "dup.zip", "test")
    assert (report.records_read, report.records_added, report.records_updated, report.records_skipped) == (
        1101,
        1100,
        0,
        1,
    )
    assert vulndb.status().records == 1100


class WritingWhileRead(io.BytesIO):
    """An upload that, while the import reads it, has another writer commit to the metadata store."""

    def __init__(self, data: bytes, database: Database) -> None:
        super().__init__(data)
        self.database = database
        self.wrote = False

    def read(self, size: int | None = -1) -> bytes:
        if not self.wrote and self.tell() > 0:
            self.wrote = True
            with self.database.write() as connection:  # would wait forever for a lock the import held
                connection.execute(
                    sa.insert(vulnerability_sources).values(
                        name="other-writer",
                        imported_at=sa.func.now(),
                        filename="-",
                        records_read=0,
                        records_stored=0,
                        imports=1,
                    )
                )
        return super().read(size)


def test_reading_and_checking_an_upload_holds_no_write_lock(vulndb: VulnerabilityDatabase) -> None:
    upload = WritingWhileRead(files(*SYNTHETIC).getvalue(), vulndb.database)
    assert vulndb.import_archive(upload, "all.zip", "test").records_added == len(SYNTHETIC)
    assert upload.wrote and {source.name for source in vulndb.status().sources} == {"other-writer", "test"}


def test_two_imports_at_once_queue_and_the_newest_copies_win(vulndb: VulnerabilityDatabase) -> None:
    older = zipped(*({"id": f"TEST-{n}", "modified": "2026-01-01T00:00:00Z"} for n in range(0, 1500)))
    newer = zipped(*({"id": f"TEST-{n}", "modified": "2026-02-01T00:00:00Z"} for n in range(500, 2000)))
    reports: dict[str, Any] = {}
    errors: list[BaseException] = []

    def load(name: str, upload: io.BytesIO) -> None:
        try:
            reports[name] = vulndb.import_archive(upload, f"{name}.zip", name)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=load, args=args) for args in (("older", older), ("newer", newer))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors and set(reports) == {"older", "newer"}
    assert reports["older"].records_added + reports["newer"].records_added == 2000
    with vulndb.database.read() as connection:
        stored = stored_modified(connection, [f"TEST-{n}" for n in range(2000)])
    assert {moment.month for key, moment in stored.items() if int(key.split("-")[1]) >= 500} == {2}
    assert vulndb.status().records == 2000


def named(number: int, modified: str, name: str, **extra: Any) -> dict[str, Any]:
    """A synthetic record (not a real advisory) naming one PyPI package at version 1.0."""
    affected = [{"package": {"ecosystem": "PyPI", "name": name}, "versions": ["1.0"]}]
    return {"id": f"TEST-{number}", "modified": modified, "affected": affected, **extra}


def pypi(name: str) -> Package:
    return Package(name, "1.0", "PyPI", f"pkg:pypi/{name}@1.0")


def test_a_newer_copy_replaces_the_stored_record_and_its_package_rows(vulndb: VulnerabilityDatabase) -> None:
    january, february = "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"
    vulndb.import_archive(zipped(*(named(n, january, "first") for n in range(1500))), "a.zip", "test")
    newer = [  # every tenth record now names another package; every twentieth is withdrawn as well
        named(n, february, "second", **({"withdrawn": february} if n % 20 == 0 else {})) for n in range(0, 1500, 10)
    ]
    added = [named(n, february, "second") for n in range(5000, 5100)]
    report = vulndb.import_archive(zipped(*newer, *added), "b.zip", "test")
    assert (report.records_added, report.records_updated, report.records_skipped) == (100, 150, 0)
    first = {f.vulnerability_id for f in vulndb.match(image(pypi("first"))).findings}
    second = {f.vulnerability_id for f in vulndb.match(image(pypi("second"))).findings}
    assert first == {f"TEST-{n}" for n in range(1500) if n % 10}
    assert second == {f"TEST-{n}" for n in [*range(10, 1500, 20), *range(5000, 5100)]}
    with vulndb.database.read() as connection:  # one index row per record: none left behind, none doubled
        rows = connection.execute(
            sa.select(vulnerability_packages.c.record_id, sa.func.count()).group_by(vulnerability_packages.c.record_id)
        ).all()
    assert len(rows) == 1600 and {count for _, count in rows} == {1}
    assert vulndb.status().withdrawn == 75


@pytest.mark.parametrize("database", ["postgres"], indirect=True)  # SQLite's planner keeps no such statistics
def test_statistics_are_refreshed_by_a_large_import(vulndb: VulnerabilityDatabase) -> None:
    """PostgreSQL: the planner knows the tables' size after an import (autovacuum may be late or off)."""
    vulndb.import_archive(zipped(*(named(n, "2026-01-01T00:00:00Z", "p") for n in range(1200))), "a.zip", "test")
    with vulndb.database.read() as connection:
        estimated = dict(
            connection.execute(
                sa.text(
                    "SELECT relname, reltuples FROM pg_class WHERE relname IN "
                    "('vulnerability_records', 'vulnerability_packages')"
                )
            ).all()
        )
    assert estimated == {"vulnerability_records": 1200, "vulnerability_packages": 1200}


KILLED_IMPORT = """
import sys
from moorage.metadata.database import Database
from moorage.scanning.vulndb import VulnerabilityDatabase

with open(sys.argv[2], "rb") as upload:
    VulnerabilityDatabase(Database(sys.argv[1])).import_archive(upload, "killed.zip", "killed")
"""


def _writing(database: Database, wal: Path | None, wal_written_before: int) -> bool:
    """True once the import in another process is inside its write transaction and has written rows.

    PostgreSQL: its connection is sending index rows (`COPY vulnerability_packages`, after a batch of
    records). SQLite: the write lock is held and the WAL changed since the import started (pages of
    the uncommitted transaction spilled into it; the staging reads write nothing).
    """
    if wal is None:
        with database.read() as connection:
            found = connection.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND query LIKE 'COPY vulnerability_packages%'"
                )
            ).scalar()
        return bool(found)
    probe = sqlite3.connect(str(wal).removesuffix("-wal"), timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:  # locked: the import holds the write lock
        return wal.stat().st_mtime_ns > wal_written_before
    finally:
        probe.close()


def test_an_import_killed_while_writing_leaves_the_old_records(vulndb: VulnerabilityDatabase, tmp_path: Path) -> None:
    """A real interruption (SIGKILL mid-transaction), not an exception: the store keeps the previous contents."""
    january, february = "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"
    before = vulndb.import_archive(zipped(*(named(n, january, "old") for n in range(1000))), "a.zip", "test")
    details = "A made-up flaw, long enough that writing takes a while. " * 20
    upload = tmp_path / "big.zip"
    upload.write_bytes(zipped(*(named(n, february, "new", details=details) for n in range(20000))).getvalue())
    database = vulndb.database
    wal = Path(database.url.removeprefix("sqlite:///") + "-wal") if database.is_sqlite else None
    wal_written_before = wal.stat().st_mtime_ns if wal is not None else 0
    process = subprocess.Popen([sys.executable, "-c", KILLED_IMPORT, database.url, str(upload)])
    try:
        deadline = time.monotonic() + 300  # not a timing assert: only so a broken test cannot hang
        while not _writing(database, wal, wal_written_before):
            assert process.poll() is None, "the import ended before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    status = vulndb.status()
    assert (status.records, status.version) == (1000, before.database_version)
    assert [source.name for source in status.sources] == ["test"]
    assert {f.vulnerability_id for f in vulndb.match(image(pypi("old"))).findings} == {f"TEST-{n}" for n in range(1000)}
    assert vulndb.match(image(pypi("new"))).findings == ()
    with upload.open("rb") as again:  # the lock died with the process: the next import goes through
        report = vulndb.import_archive(again, "big.zip", "test")
    assert (report.records_added, report.records_updated) == (19000, 1000)
