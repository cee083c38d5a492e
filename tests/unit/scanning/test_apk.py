"""apk: `lib/apk/db/installed`, origins, and the files packages own."""

from __future__ import annotations

from moorage.scanning.inventory import inventory_image
from moorage.scanning.inventory.apk import ApkPackage, parse_installed
from tests.support.scan_images import Apk, alpine_rootfs, apk_installed, inventory_layers, python_dist_info


def test_installed_lists_packages_with_origin_and_owned_files() -> None:
    text = apk_installed(
        [
            Apk(
                "libcrypto3", "3.3.2-r0", origin="openssl", files=("/lib/libcrypto.so.3", "/usr/lib/engines-3/afalg.so")
            ),
            Apk("musl", "1.2.5-r0", arch="aarch64"),
        ]
    ).decode()
    assert parse_installed(text) == [
        ApkPackage(
            "libcrypto3", "3.3.2-r0", "x86_64", "openssl", ("/lib/libcrypto.so.3", "/usr/lib/engines-3/afalg.so")
        ),
        ApkPackage("musl", "1.2.5-r0", "aarch64", "musl", ()),
    ]


def test_alpine_packages_get_the_alpine_ecosystem_and_source() -> None:
    layers = inventory_layers([alpine_rootfs([Apk("libcrypto3", "3.3.2-r0", origin="openssl")])])
    inventory = inventory_image(layers)
    (package,) = inventory.packages
    assert (package.ecosystem, package.source_name, package.source_version) == ("Alpine:v3.20", "openssl", "3.3.2-r0")
    assert package.path == "/lib/apk/db/installed"


def test_python_packages_installed_by_apk_are_not_reported_as_pypi() -> None:
    site = "usr/lib/python3.12/site-packages"
    owned = Apk("py3-six", "1.16.0-r9", files=(f"/{site}/six-1.16.0.dist-info/METADATA",))
    layers = inventory_layers(
        [
            alpine_rootfs([owned]),
            {**python_dist_info(site, "six", "1.16.0"), **python_dist_info(site, "attrs", "23.2.0")},
        ]
    )
    assert {(p.name, p.ecosystem) for p in inventory_image(layers).packages} == {
        ("py3-six", "Alpine:v3.20"),
        ("attrs", "PyPI"),
    }


def test_the_summary_drops_checksums_and_descriptions() -> None:
    from moorage.scanning.inventory import summarise_layer
    from tests.support.scan_images import as_layer, gzip_layer

    summary = summarise_layer(
        as_layer(gzip_layer(alpine_rootfs([Apk("musl", "1.2.5-r0", files=("/lib/ld-musl.so.1",))])))
    )
    content = summary.files["lib/apk/db/installed"].content
    assert "Z:" not in content and "T:" not in content and "R:ld-musl.so.1" in content
