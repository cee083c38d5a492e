"""Reading layers once, in every compression, and stacking them with the OCI whiteout rules."""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from moorage.scanning.inventory import (
    Layer,
    LayerSummary,
    LayerUnreadable,
    SummaryFormatError,
    UnsupportedImage,
    inventory_image,
    summarise_layer,
)
from moorage.scanning.inventory.summary import FileRecord, RecordKind
from tests.support.go_binaries import go_modinfo, synthetic_go_binary
from tests.support.oci_layout import LayerBlob
from tests.support.scan_images import (
    Deb,
    Directory,
    Executable,
    Files,
    Symlink,
    as_layer,
    debian_rootfs,
    docker_layer,
    gzip_layer,
    inventory_layers,
    layout_layers,
    plain_layer,
    python_dist_info,
    sample_image,
    tar_bytes,
    write_scan_image,
    zstd_layer,
)

SITE = "usr/local/lib/python3.12/site-packages"
BASE = debian_rootfs([Deb("openssl", "3.0.11-1~deb12u2"), Deb("zlib1g", "1:1.2.13.dfsg-1", source="zlib")])


def names(layers: list[Layer]) -> set[tuple[str, str]]:
    return {(p.name, p.version) for p in inventory_image(layers).packages}


class MemoryCache:
    def __init__(self) -> None:
        self.entries: dict[str, str] = {}

    def get(self, digest: str) -> LayerSummary | None:
        text = self.entries.get(digest)
        return LayerSummary.from_json(text) if text is not None else None

    def put(self, digest: str, summary: LayerSummary) -> None:
        self.entries[digest] = summary.to_json()


@pytest.mark.parametrize(
    "make", [gzip_layer, zstd_layer, plain_layer, docker_layer], ids=["gzip", "zstd", "tar", "docker"]
)
def test_every_layer_compression_gives_the_same_inventory(make: Callable[[Files], LayerBlob]) -> None:
    layers = inventory_layers([BASE, python_dist_info(SITE, "requests", "2.31.0")], make=make)
    inventory = inventory_image(layers)
    assert inventory.distro is not None and inventory.distro.osv_ecosystem == "Debian:12"
    assert {(p.name, p.version, p.ecosystem) for p in inventory.packages} == {
        ("openssl", "3.0.11-1~deb12u2", "Debian:12"),
        ("zlib1g", "1:1.2.13.dfsg-1", "Debian:12"),
        ("requests", "2.31.0", "PyPI"),
    }


def test_a_layer_is_sniffed_so_a_gzip_blob_labelled_plain_tar_still_reads() -> None:
    blob = gzip_layer(BASE)
    mislabelled = LayerBlob(blob.data, blob.diff_id, "application/vnd.docker.image.rootfs.diff.tar")
    assert names([as_layer(mislabelled)]) == {("openssl", "3.0.11-1~deb12u2"), ("zlib1g", "1:1.2.13.dfsg-1")}


def test_each_layer_is_read_once_and_a_cached_summary_is_not_read_again() -> None:
    blobs = [gzip_layer(BASE), zstd_layer(python_dist_info(SITE, "idna", "3.6"))]
    opened: list[str] = []
    cache = MemoryCache()
    first = inventory_image([as_layer(blob, opened) for blob in blobs], cache)
    assert opened == [blob.digest for blob in blobs]
    second = inventory_image([as_layer(blob, opened) for blob in blobs], cache)
    assert opened == [blob.digest for blob in blobs], "cached layers must not be opened again"
    assert first == second
    assert set(cache.entries) == {blob.digest for blob in blobs}


def test_a_summary_survives_json_and_refuses_another_schema_version() -> None:
    summary = summarise_layer(as_layer(gzip_layer({**BASE, "etc/.wh.motd": b"", "opt/.wh..wh..opq": b""})))
    assert LayerSummary.from_json(summary.to_json()) == summary
    assert summary.whiteouts == ("etc/motd",) and summary.opaque_dirs == ("opt",)
    stale = summary.to_json().replace(f'"schema":{LayerSummary.SCHEMA_VERSION}', '"schema":0')
    with pytest.raises(SummaryFormatError):
        LayerSummary.from_json(stale)
    with pytest.raises(SummaryFormatError):
        LayerSummary.from_json("{not json")


def test_a_summary_keeps_only_what_the_parsers_read() -> None:
    summary = summarise_layer(as_layer(gzip_layer({**BASE, "etc/passwd": b"root:x:0:0::/root:/bin/sh\n"})))
    status = summary.files["var/lib/dpkg/status"]
    assert status.kind is RecordKind.TEXT and "Description" not in status.content and "openssl" in status.content
    assert "etc/passwd" not in summary.files and "etc/passwd" not in summary.hidden


def test_a_package_database_replaced_in_an_upper_layer_shows_only_the_new_packages() -> None:
    upper = {"var/lib/dpkg/status": debian_rootfs([Deb("openssl", "3.0.13-1~deb12u1")])["var/lib/dpkg/status"]}
    layers = inventory_layers([BASE, upper])
    inventory = inventory_image(layers)
    assert {(p.name, p.version) for p in inventory.packages} == {("openssl", "3.0.13-1~deb12u1")}
    assert inventory.packages[0].layer_digest == layers[1].digest


def test_a_package_database_deleted_by_a_whiteout_contributes_nothing() -> None:
    layers = inventory_layers([BASE, {"var/lib/dpkg/.wh.status": b""}])
    inventory = inventory_image(layers)
    assert inventory.packages == ()
    assert inventory.distro is not None and inventory.distro.id == "debian"


def test_a_whiteout_of_a_directory_deletes_everything_below_it() -> None:
    layers = inventory_layers(
        [{**BASE, **python_dist_info(SITE, "idna", "3.6")}, {"usr/local/lib/.wh.python3.12": b""}]
    )
    assert ("idna", "3.6") not in names(layers)


def test_an_opaque_directory_hides_lower_contents_but_keeps_its_own_layer() -> None:
    lower = {**python_dist_info(SITE, "idna", "3.6"), **python_dist_info(SITE, "urllib3", "2.0.0")}
    upper = {f"{SITE}/.wh..wh..opq": b"", **python_dist_info(SITE, "urllib3", "2.2.1")}
    assert names(inventory_layers([lower, upper])) == {("urllib3", "2.2.1")}


def test_an_opaque_whiteout_at_the_root_hides_every_lower_layer() -> None:
    assert names(inventory_layers([BASE, {".wh..wh..opq": b"", **python_dist_info(SITE, "idna", "3.6")}])) == {
        ("idna", "3.6")
    }


def test_a_whiteout_never_deletes_a_file_of_its_own_layer() -> None:
    # A layer that deletes a path and writes it anew (apt reinstalling) shows the new file.
    upper = {"var/lib/dpkg/.wh.status": b"", **debian_rootfs([Deb("curl", "7.88.1-10")])}
    assert names(inventory_layers([BASE, upper])) == {("curl", "7.88.1-10")}


def test_a_symlink_over_a_directory_hides_what_lower_layers_put_in_it() -> None:
    lower = python_dist_info("lib/python3/site", "idna", "3.6")
    upper = {"lib": Symlink("usr/lib")}
    assert names(inventory_layers([lower, upper])) == set()


def test_a_shell_script_over_a_go_binary_removes_its_modules() -> None:
    binary = synthetic_go_binary("go1.22.1", go_modinfo("example.com/tool", "v1.0.0"))
    lower = {"usr/bin/tool": Executable(binary)}
    assert ("example.com/tool", "1.0.0") in names(inventory_layers([lower]))
    assert names(inventory_layers([lower, {"usr/bin/tool": Executable(b"#!/bin/sh\nexit 0\n")}])) == set()


def test_a_directory_entry_does_not_hide_lower_files_below_it() -> None:
    upper = {"usr": Directory(), "usr/local": Directory(), "var/lib/dpkg": Directory()}
    assert len(names(inventory_layers([BASE, upper]))) == 2


def test_a_layer_that_is_not_a_file_system_tar_makes_the_image_unsupported_before_any_read() -> None:
    opened: list[str] = []
    base = as_layer(gzip_layer(BASE), opened)
    chart = Layer("sha256:" + "c" * 64, "application/vnd.cncf.helm.chart.content.v1.tar+gzip", base.open)
    with pytest.raises(UnsupportedImage, match="helm"):
        inventory_image([base, chart])
    assert opened == []


def test_a_corrupt_layer_is_unreadable_with_a_reason() -> None:
    data = gzip.compress(tar_bytes(BASE))[:200]
    with pytest.raises(LayerUnreadable, match="not a readable tar stream"):
        inventory_image([as_layer(LayerBlob(data, "sha256:x"))])


def test_an_empty_blob_is_an_empty_layer() -> None:
    assert summarise_layer(as_layer(LayerBlob(b"", "sha256:x"))) == LayerSummary()


def test_a_hard_link_to_evidence_of_the_same_layer_is_evidence_too() -> None:
    from tests.support.scan_images import Hardlink

    files = {
        **python_dist_info(SITE, "idna", "3.6"),
        "opt/venv/idna-3.6.dist-info/METADATA": Hardlink(f"{SITE}/idna-3.6.dist-info/METADATA"),
    }
    summary = summarise_layer(as_layer(gzip_layer(files)))
    assert summary.files["opt/venv/idna-3.6.dist-info/METADATA"] == summary.files[f"{SITE}/idna-3.6.dist-info/METADATA"]
    assert isinstance(summary.files[f"{SITE}/idna-3.6.dist-info/METADATA"], FileRecord)


def test_an_image_written_as_an_oci_layout_reads_back_from_its_blobs(tmp_path: Path) -> None:
    blobs = [
        zstd_layer(BASE),
        gzip_layer(python_dist_info(SITE, "idna", "3.6")),
        plain_layer({"etc/.wh.debian_version": b""}),
    ]
    image = write_scan_image(tmp_path / "layout", "scan", blobs)
    assert [layer.media_type for layer in image.layers] == [blob.media_type for blob in blobs]
    inventory = inventory_image(layout_layers(tmp_path / "layout", image))
    assert {p.name for p in inventory.packages} == {"openssl", "zlib1g", "idna"}


def test_a_cached_summary_of_another_schema_version_is_read_again_and_replaced() -> None:
    blob = gzip_layer(BASE)
    cache = MemoryCache()
    cache.entries[blob.digest] = '{"schema":0,"files":{}}'
    opened: list[str] = []
    inventory = inventory_image([as_layer(blob, opened)], cache)
    assert opened == [blob.digest] and len(inventory.packages) == 2
    assert LayerSummary.from_json(cache.entries[blob.digest]).files


def test_the_sample_image_lists_exactly_its_promised_packages() -> None:
    sample = sample_image(marker="run-1")
    inventory = inventory_image([as_layer(blob) for blob in sample.blobs])
    assert {(p.ecosystem, p.name, p.version) for p in inventory.packages} == sample.packages
    assert sample_image(marker="run-2").blobs[0].digest != sample.blobs[0].digest


def test_multi_frame_layers_read_whole_as_zstd_chunked_and_estargz_write_them() -> None:
    tar = tar_bytes(BASE)
    half = len(tar) // 2
    compressor = zstandard.ZstdCompressor()
    skippable = struct.pack("<II", 0x184D2A50, 8) + b"manifest"  # zstd:chunked keeps its table of contents so
    zstd_chunked = compressor.compress(tar[:half]) + compressor.compress(tar[half:]) + skippable
    estargz = gzip.compress(tar[:half], mtime=0) + gzip.compress(tar[half:], mtime=0)
    for data, media_type in [
        (zstd_chunked, "application/vnd.oci.image.layer.v1.tar+zstd"),
        (estargz, "application/vnd.oci.image.layer.v1.tar+gzip"),
    ]:
        assert len(names([as_layer(LayerBlob(data, "sha256:x", media_type))])) == 2, media_type


def test_a_layer_listed_twice_is_read_once_and_applied_twice() -> None:
    blob = gzip_layer({"var/lib/dpkg/.wh.status": b""})
    opened: list[str] = []
    base = as_layer(gzip_layer(BASE), opened)
    twice = [base, as_layer(blob, opened), as_layer(gzip_layer(BASE), opened), as_layer(blob, opened)]
    assert inventory_image(twice).packages == ()
    assert opened == [base.digest, blob.digest]
