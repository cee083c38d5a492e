"""A malicious layer must not make the scanner read host files, run out of memory or crash."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from moorage.scanning.inventory import LayerUnreadable, Limits, inventory_image, summarise_layer
from moorage.scanning.inventory.layers import normalise
from tests.support.oci_layout import LayerBlob
from tests.support.scan_images import (
    Deb,
    Hardlink,
    Raw,
    Symlink,
    as_layer,
    debian_rootfs,
    gzip_layer,
    os_release,
    python_dist_info,
)

SITE = "usr/lib/python3/dist-packages"


def test_paths_that_climb_out_of_the_root_are_skipped() -> None:
    layer = as_layer(gzip_layer({"../../etc/os-release": os_release("alpine", "3.20.0"), "a/../../b": b"x"}))
    assert summarise_layer(layer).files == {}
    assert inventory_image([layer]).distro is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("./etc/os-release", "etc/os-release"),
        ("/etc/os-release", "etc/os-release"),
        ("usr/../etc/os-release", "etc/os-release"),
        ("etc//os-release", "etc/os-release"),
        ("../etc/os-release", None),
        ("/../../etc/passwd", None),
        (".", None),
        ("./", None),
    ],
)
def test_member_names_are_normalised_like_a_runtime_extracts_them(name: str, expected: str | None) -> None:
    assert normalise(name) == expected


def test_an_absolute_member_name_lands_in_the_image_root() -> None:
    layer = as_layer(gzip_layer({"/etc/os-release": os_release("alpine", "3.19.1")}))
    distro = inventory_image([layer]).distro
    assert distro is not None and distro.osv_ecosystem == "Alpine:v3.19"


def test_a_symlink_to_a_host_file_is_never_followed() -> None:
    assert Path("/etc/os-release").exists(), "the host file the attack would read"
    layer = as_layer(
        gzip_layer(
            {"etc/os-release": Symlink("/etc/os-release"), "var/lib/dpkg/status": Symlink("/var/lib/dpkg/status")}
        )
    )
    inventory = inventory_image([layer])
    assert inventory.distro is None and inventory.packages == ()


def test_a_hard_link_to_a_path_outside_the_layer_is_not_read() -> None:
    layer = as_layer(
        gzip_layer(
            {
                "etc/os-release": Hardlink("/etc/os-release"),
                "var/lib/dpkg/status": Hardlink("../../../var/lib/dpkg/status"),
            }
        )
    )
    summary = summarise_layer(layer)
    assert summary.files == {} and set(summary.hidden) == {"etc/os-release", "var/lib/dpkg/status"}


def test_an_oversized_metadata_file_is_skipped_without_reading_it() -> None:
    metadata = "app/node_modules/big/package.json"
    document = b'{"name": "big", "version": "1.0.0", "description": "' + b"x" * 5000 + b'"}'
    summary = summarise_layer(as_layer(gzip_layer({metadata: document})), Limits(max_metadata_bytes=1000))
    assert metadata not in summary.files and metadata in summary.hidden


def test_python_metadata_with_a_long_readme_is_read_by_its_head() -> None:
    files = python_dist_info(SITE, "idna", "3.6")
    metadata = f"{SITE}/idna-3.6.dist-info/METADATA"
    files[metadata] = files[metadata] + b"x" * 50_000  # type: ignore[operator]
    layer = as_layer(gzip_layer(files))
    summary = summarise_layer(layer, Limits(max_metadata_bytes=1000))
    assert len(summary.files[metadata].content) < 100
    assert [p.name for p in inventory_image([layer], limits=Limits(max_metadata_bytes=1000)).packages] == ["idna"]


def test_a_decompression_bomb_stops_at_the_layer_bound() -> None:
    bomb = {f"data/zero{n}": b"\0" * (1 << 20) for n in range(4)}
    blob = gzip_layer(bomb)
    assert len(blob.data) < 50_000
    with pytest.raises(LayerUnreadable, match="uncompressed size"):
        summarise_layer(as_layer(blob), Limits(max_layer_bytes=1 << 20))


def test_a_layer_with_too_many_entries_is_refused() -> None:
    files = {f"etc/file{n}": b"" for n in range(50)}
    with pytest.raises(LayerUnreadable, match="more than 20 entries"):
        summarise_layer(as_layer(gzip_layer(files)), Limits(max_entries=20))


def test_too_much_metadata_in_one_layer_is_refused() -> None:
    files = debian_rootfs([Deb(f"package{n}", "1.0") for n in range(200)], with_lists=False)
    with pytest.raises(LayerUnreadable, match="bytes of metadata"):
        summarise_layer(as_layer(gzip_layer(files)), Limits(max_kept_bytes=2000))


def test_too_many_links_in_one_layer_are_refused() -> None:
    files = {f"usr/bin/link{n}": Symlink("busybox") for n in range(30)}
    with pytest.raises(LayerUnreadable, match="links and executables"):
        summarise_layer(as_layer(gzip_layer(files)), Limits(max_hidden_paths=10))


def test_a_member_that_declares_more_bytes_than_the_stream_holds_is_unreadable() -> None:
    blob = gzip_layer({"var/lib/dpkg/status": Raw(b"Package: x\n", size=64 << 20)})
    with pytest.raises(LayerUnreadable):
        summarise_layer(as_layer(blob))


def test_a_truncated_tar_is_unreadable() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("var/lib/dpkg/status")
        info.size = 10_000
        archive.addfile(info, io.BytesIO(b"x" * 10_000))
    data = gzip.compress(buffer.getvalue()[:3000])
    with pytest.raises(LayerUnreadable):
        summarise_layer(as_layer(LayerBlob(data, "sha256:x")))


def test_garbage_instead_of_a_tar_is_unreadable() -> None:
    with pytest.raises(LayerUnreadable):
        summarise_layer(as_layer(LayerBlob(b"this is not a tar archive at all" * 40, "sha256:x")))


def test_devices_and_fifos_are_never_read_and_hide_lower_files() -> None:
    files = {"var/lib/dpkg/status": Raw(type=tarfile.CHRTYPE), "etc/os-release": Raw(type=tarfile.FIFOTYPE)}
    summary = summarise_layer(as_layer(gzip_layer(files)))
    assert summary.files == {} and set(summary.hidden) == set(files)


@pytest.mark.parametrize("kind", [tarfile.GNUTYPE_LONGNAME, tarfile.XHDTYPE], ids=["gnu-longname", "pax"])
def test_an_extended_header_too_large_to_hold_in_memory_is_refused(kind: bytes) -> None:
    # tarfile reads long-name and pax headers whole: a 2 MiB one (compressing to almost nothing) is refused.
    blob = gzip_layer({"header": Raw(b"a" * (2 << 20), type=kind), "etc/os-release": os_release("alpine", "3.20.0")})
    assert len(blob.data) < 20_000
    with pytest.raises(LayerUnreadable, match="extended header"):
        summarise_layer(as_layer(blob))


def test_long_names_of_ordinary_size_still_read() -> None:
    deep = "/".join(["d" * 60] * 10) + "/node_modules/left-pad/package.json"
    layer = as_layer(gzip_layer({deep: b'{"name": "left-pad", "version": "1.3.0"}'}))
    assert [p.name for p in inventory_image([layer]).packages] == ["left-pad"]


def test_garbage_in_any_metadata_file_never_breaks_the_inventory() -> None:
    """Seeded random text in every kind of text evidence: parsers skip what they cannot read."""
    import random

    from moorage.scanning.inventory.resolution import resolve_inventory
    from moorage.scanning.inventory.selection import Interest, trim
    from moorage.scanning.inventory.summary import FileRecord, LayerSummary, RecordKind

    paths = {
        Interest.DISTRO: "etc/os-release",
        Interest.DPKG_STATUS: "var/lib/dpkg/status",
        Interest.DPKG_FILES: "var/lib/dpkg/info/a.list",
        Interest.APK_INSTALLED: "lib/apk/db/installed",
        Interest.PYTHON: "site/a-1.dist-info/METADATA",
        Interest.NPM: "node_modules/a/package.json",
    }
    rng = random.Random(13)
    alphabet = 'PVAoRFZ:\n \t()/.-_ab01{}"[]=#\r\x00é\\'
    for _ in range(1500):
        interest = rng.choice(list(paths))
        text = trim(interest, "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120))))
        if text is not None:
            summary = LayerSummary(files={paths[interest]: FileRecord(RecordKind.TEXT, text)})
            resolve_inventory([("sha256:x", summary)])


def test_random_bytes_are_never_an_rpm_header_or_go_build_info_by_accident() -> None:
    import random

    from moorage.scanning.inventory.golang import parse_buildinfo
    from moorage.scanning.inventory.rpm import HeaderError, parse_header

    rng = random.Random(7)
    for _ in range(3000):
        blob = rng.randbytes(rng.randint(0, 120))
        with pytest.raises(HeaderError):
            parse_header(blob)
        assert parse_buildinfo(b"\xff Go buildinf:" + blob) is None


def test_names_that_are_not_utf8_are_reported_in_valid_text() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT, errors="surrogateescape") as archive:
        data = b'{"name": "evil", "version": "1.0.0"}'
        info = tarfile.TarInfo("app/\udcff\udcfe/node_modules/evil/package.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    layer = as_layer(LayerBlob(gzip.compress(buffer.getvalue()), "sha256:x"))
    (package,) = inventory_image([layer]).packages
    package.path.encode("utf-8")  # would raise on a lone surrogate
    assert package.path == "/app/\ufffd\ufffd/node_modules/evil/package.json"
