"""rpm: header blobs from `rpmdb.sqlite`, epochs and source rpms, owned files, hostile headers."""

from __future__ import annotations

import struct

import pytest

from moorage.scanning.inventory import inventory_image, summarise_layer
from moorage.scanning.inventory.rpm import HeaderError, RpmPackage, parse_header, split_source_rpm
from tests.support.scan_images import (
    Rpm,
    as_layer,
    gzip_layer,
    inventory_layers,
    os_release,
    python_dist_info,
    rpm_header,
    rpm_rootfs,
    rpmdb_sqlite,
)

OPENSSL = Rpm(
    "openssl-libs",
    "3.0.7",
    "27.el9",
    epoch=1,
    source_rpm="openssl-3.0.7-27.el9.src.rpm",
    files=("/usr/lib64/libssl.so.3", "/usr/lib64/libcrypto.so.3", "/etc/pki/tls/openssl.cnf"),
)


def test_a_header_blob_gives_name_version_epoch_arch_source_and_files() -> None:
    assert parse_header(rpm_header(OPENSSL)) == RpmPackage(
        name="openssl-libs",
        version="3.0.7",
        release="27.el9",
        epoch=1,
        arch="x86_64",
        source_rpm="openssl-3.0.7-27.el9.src.rpm",
        files=("/usr/lib64/libssl.so.3", "/usr/lib64/libcrypto.so.3", "/etc/pki/tls/openssl.cnf"),
    )


def test_the_version_includes_the_epoch_only_when_there_is_one() -> None:
    assert parse_header(rpm_header(OPENSSL)).evr == "1:3.0.7-27.el9"
    assert parse_header(rpm_header(Rpm("bash", "5.1.8", "9.el9"))).evr == "5.1.8-9.el9"


@pytest.mark.parametrize(
    ("source_rpm", "expected"),
    [
        ("openssl-3.0.7-27.el9.src.rpm", ("openssl", "3.0.7-27.el9")),
        ("python3.11-3.11.7-1.el9.src.rpm", ("python3.11", "3.11.7-1.el9")),
        ("kernel-5.14.0-427.13.1.el9_4.nosrc.rpm", ("kernel", "5.14.0-427.13.1.el9_4")),
        ("nonsense", None),
    ],
)
def test_source_rpm_names_split_into_name_and_version(source_rpm: str, expected: tuple[str, str] | None) -> None:
    assert split_source_rpm(source_rpm) == expected


def test_rpmdb_sqlite_packages_become_the_distribution_packages() -> None:
    layers = inventory_layers([rpm_rootfs([OPENSSL, Rpm("gpg-pubkey", "fd431d51", "4ae0493b", arch="(none)")])])
    inventory = inventory_image(layers)
    (package,) = inventory.packages  # gpg-pubkey is a key, not a package
    assert (package.name, package.version, package.ecosystem) == ("openssl-libs", "1:3.0.7-27.el9", "Rocky Linux:9")
    assert (package.source_name, package.source_version) == ("openssl", "3.0.7-27.el9")
    assert package.path == "/var/lib/rpm/rpmdb.sqlite"


def test_the_newer_sysimage_location_is_read_too() -> None:
    files = {"etc/os-release": os_release("fedora", "40"), "usr/lib/sysimage/rpm/rpmdb.sqlite": rpmdb_sqlite([OPENSSL])}
    (package,) = inventory_image(inventory_layers([files])).packages
    assert package.ecosystem == "fedora:40", "no OSV ecosystem for Fedora: listed, never matched"


def test_python_metadata_owned_by_an_rpm_is_not_reported_as_pypi() -> None:
    site = "usr/lib/python3.9/site-packages"
    rpm = Rpm("python3-idna", "2.10", "7.el9", files=(f"/{site}/idna-2.10.dist-info/METADATA",))
    layers = inventory_layers([{**rpm_rootfs([rpm]), **python_dist_info(site, "idna", "2.10")}])
    assert [(p.name, p.ecosystem) for p in inventory_image(layers).packages] == [("python3-idna", "Rocky Linux:9")]


def test_one_malformed_header_does_not_hide_the_others() -> None:
    broken = struct.pack(">ii", 1, 4) + struct.pack(">iiii", 1000, 6, 999, 1) + b"abcd"
    files = {"var/lib/rpm/rpmdb.sqlite": rpmdb_sqlite([OPENSSL], extra_blobs=[broken, b"\x00"])}
    assert [p.name for p in inventory_image(inventory_layers([files])).packages] == ["openssl-libs"]


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        struct.pack(">ii", 0, 0),
        struct.pack(">ii", 1 << 20, 0),
        struct.pack(">ii", 1, 100) + b"\0" * 16,
        struct.pack(">ii", 1, 4) + struct.pack(">iiii", 1000, 6, 0, 1) + b"abcd",  # string without NUL
        struct.pack(">ii", 1, 4) + struct.pack(">iiii", 1116, 4, 0, 1000) + b"abcd",  # int32s past the end
        struct.pack(">ii", 1, 4) + struct.pack(">iiii", 1000, 4, 0, 1) + b"abcd",  # NAME is not a string
        struct.pack(">ii", 1, 4) + struct.pack(">iiii", 1000, 6, -5, 1) + b"abc\0",
    ],
    ids=["empty", "no-entries", "huge-index", "short", "unterminated", "int32-overflow", "wrong-type", "negative"],
)
def test_hostile_headers_are_refused_without_reading_past_them(blob: bytes) -> None:
    with pytest.raises(HeaderError):
        parse_header(blob)


def test_a_file_that_is_not_sqlite_is_skipped() -> None:
    summary = summarise_layer(as_layer(gzip_layer({"var/lib/rpm/rpmdb.sqlite": b"SQLite format 3\0garbage" * 100})))
    assert summary.files == {} and summary.hidden == ("var/lib/rpm/rpmdb.sqlite",)


def test_a_database_without_a_packages_table_is_skipped() -> None:
    import sqlite3
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "db"
        connection = sqlite3.connect(path)
        connection.execute("CREATE TABLE Other (x)")
        connection.commit()
        connection.close()
        data = path.read_bytes()
    summary = summarise_layer(as_layer(gzip_layer({"var/lib/rpm/rpmdb.sqlite": data})))
    assert "var/lib/rpm/rpmdb.sqlite" in summary.hidden


def test_the_summary_keeps_only_owned_files_that_may_be_evidence() -> None:
    rpm = Rpm("bash", "5.1.8", "9.el9", files=("/usr/bin/bash", "/usr/share/man/man1/bash.1.gz", "/etc/skel/.bashrc"))
    summary = summarise_layer(as_layer(gzip_layer(rpm_rootfs([rpm]))))
    (package,) = summary.files["var/lib/rpm/rpmdb.sqlite"].json()
    assert package["files"] == ["/usr/bin/bash", "/etc/skel/.bashrc"]
