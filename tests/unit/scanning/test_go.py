"""Go binaries: the embedded build information, found in a stream without loading the binary."""

from __future__ import annotations

import io
import os

import pytest

from moorage.scanning.inventory import inventory_image
from moorage.scanning.inventory.golang import (
    BuildInfo,
    GoModule,
    find_buildinfo,
    go_modules,
    parse_buildinfo,
    toolchain_semver,
)
from tests.support.go_binaries import build_go_binary, go_buildinfo_blob, go_modinfo, go_toolchain, synthetic_go_binary
from tests.support.scan_images import (
    Executable,
    inventory_layers,
)

MODINFO = go_modinfo(
    "example.com/tool", "v1.4.0", [("golang.org/x/net", "v0.17.0"), ("github.com/pkg/errors", "v0.9.1")]
)


@pytest.fixture(scope="module")
def real_binary(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if go_toolchain() is None:
        if os.environ.get("CI"):
            pytest.fail("the Go toolchain (Debian's golang-go) is missing in CI")
        pytest.skip("the Go toolchain is not installed")
    return build_go_binary(tmp_path_factory.mktemp("go"))


def test_a_binary_built_by_the_go_toolchain_lists_stdlib_and_its_dependency(real_binary: bytes) -> None:
    layers = inventory_layers([{"usr/local/bin/scanme": Executable(real_binary)}])
    found = {(p.name, p.ecosystem, p.purl) for p in inventory_image(layers).packages}
    assert ("example.com/greeting", "Go", "pkg:golang/example.com/greeting@v1.2.3") in found
    stdlib = [name for name, _, _ in found if name == "stdlib"]
    assert stdlib, found
    # The main module is built from a work tree: `(devel)`, no released version to match.
    assert not any(name == "example.com/scanme" for name, _, _ in found)


def test_the_build_info_is_found_past_a_decoy_magic_string() -> None:
    binary = synthetic_go_binary("go1.22.1", MODINFO, decoy=True)
    info = find_buildinfo(io.BytesIO(binary), max_bytes=1 << 20)
    assert info == BuildInfo("go1.22.1", MODINFO)


@pytest.mark.parametrize("offset", [(1 << 20) - 16, (1 << 20) - 8 * 16, 1 << 20, (1 << 20) + 16, 3 * (1 << 20) - 16])
def test_the_build_info_is_found_across_chunk_boundaries(offset: int) -> None:
    binary = b"\x7fELF" + b"\0" * (offset - 4) + go_buildinfo_blob("go1.21.6", MODINFO)
    info = find_buildinfo(io.BytesIO(binary), max_bytes=8 << 20)
    assert info is not None and info.go_version == "go1.21.6"


def test_the_search_stops_at_its_bound() -> None:
    binary = b"\x7fELF" + b"\0" * ((2 << 20) - 4) + go_buildinfo_blob("go1.21.6", MODINFO)
    assert find_buildinfo(io.BytesIO(binary), max_bytes=1 << 20) is None


def test_unaligned_or_pointer_format_headers_are_not_read() -> None:
    blob = go_buildinfo_blob("go1.21.6", MODINFO)
    assert find_buildinfo(io.BytesIO(b"\x7fELF" + b"\0" * 5 + blob), max_bytes=1 << 20) is None
    pointer_format = blob[:15] + b"\x00" + blob[16:]
    assert parse_buildinfo(pointer_format) is None


def test_a_huge_declared_string_length_is_refused() -> None:
    header = b"\xff Go buildinf:" + bytes([8, 2]) + b"\0" * 16
    assert parse_buildinfo(header + b"\xff\xff\xff\xff\x0f" + b"go1.22") is None


@pytest.mark.parametrize(
    ("tag", "semver"),
    [
        ("go1.20", "1.20.0"),
        ("go1.21.3", "1.21.3"),
        ("go1.21rc2", "1.21.0-rc.2"),
        ("go1.19beta1", "1.19.0-beta.1"),
        ("go1.22.1 X:boringcrypto", "1.22.1"),
        ("devel go1.23-abcdef", None),
        ("gofish", None),
    ],
)
def test_toolchain_versions_are_written_as_osv_semver(tag: str, semver: str | None) -> None:
    assert toolchain_semver(tag) == semver


def test_modules_follow_replacements_and_skip_devel_and_local_ones() -> None:
    modinfo = (
        "path\texample.com/tool\nmod\texample.com/tool\t(devel)\t\n"
        "dep\tgolang.org/x/net\tv0.10.0\th1:x=\n=>\tgithub.com/fork/net\tv0.10.1\th1:y=\n"
        "dep\texample.com/local\tv1.0.0\n=>\t../local\t\t\n"
        "dep\tgithub.com/pkg/errors\tv0.9.1\th1:z=\n"
    )
    assert go_modules(BuildInfo("go1.22.1 X:boringcrypto", modinfo)) == [
        GoModule("stdlib", "1.22.1"),
        GoModule("github.com/fork/net", "0.10.1"),
        GoModule("github.com/pkg/errors", "0.9.1"),
    ]


def test_an_executable_that_is_not_go_yields_nothing() -> None:
    layers = inventory_layers(
        [{"usr/bin/sh": Executable(b"\x7fELF" + b"\0" * 4096), "usr/bin/x": Executable(b"#!/bin/sh\n")}]
    )
    assert inventory_image(layers).packages == ()


def test_a_go_binary_without_the_executable_bit_is_not_searched() -> None:
    binary = synthetic_go_binary("go1.22.1", MODINFO)
    assert inventory_image(inventory_layers([{"srv/data.bin": binary}])).packages == ()


def test_go_packages_have_osv_versions_and_golang_purls() -> None:
    layers = inventory_layers([{"app/tool": Executable(synthetic_go_binary("go1.22.1", MODINFO))}])
    found = {(p.name, p.version, p.purl) for p in inventory_image(layers).packages}
    assert found == {
        ("stdlib", "1.22.1", "pkg:golang/stdlib@v1.22.1"),
        ("example.com/tool", "1.4.0", "pkg:golang/example.com/tool@v1.4.0"),
        ("golang.org/x/net", "0.17.0", "pkg:golang/golang.org/x/net@v0.17.0"),
        ("github.com/pkg/errors", "0.9.1", "pkg:golang/github.com/pkg/errors@v0.9.1"),
    }


def test_the_summary_keeps_the_build_info_not_the_binary() -> None:
    from moorage.scanning.inventory import summarise_layer
    from tests.support.scan_images import as_layer, gzip_layer

    binary = synthetic_go_binary("go1.22.1", MODINFO, padding=200_000)
    summary = summarise_layer(as_layer(gzip_layer({"app/tool": Executable(binary)})))
    assert len(summary.to_json()) < 2000


def test_the_synthetic_binary_has_the_shape_the_toolchain_writes(real_binary: bytes) -> None:
    """The synthetic blob is only trustworthy if it has the real binary's shape."""
    info = find_buildinfo(io.BytesIO(real_binary), max_bytes=len(real_binary))
    assert info is not None and info.go_version.startswith("go1.")
    assert "dep\texample.com/greeting\tv1.2.3" in info.modinfo
