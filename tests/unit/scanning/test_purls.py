"""Package URLs: one per package, with the qualifiers each purl type asks for, and parseable back."""

from __future__ import annotations

import pytest
from packageurl import PackageURL

from moorage.scanning.inventory import inventory_image, purls
from moorage.scanning.model import Distro
from tests.support.go_binaries import go_modinfo, synthetic_go_binary
from tests.support.scan_images import (
    Apk,
    Deb,
    Executable,
    Rpm,
    alpine_rootfs,
    debian_rootfs,
    inventory_layers,
    jar,
    npm_package,
    python_dist_info,
    rpm_rootfs,
)


@pytest.mark.parametrize(
    ("purl", "expected"),
    [
        (
            purls.deb_purl("libc6", "2.36-9+deb12u4", "amd64", Distro("debian", "12")),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12",
        ),
        (
            purls.deb_purl("libc6", "2.35-0ubuntu3.6", "arm64", Distro("ubuntu", "22.04")),
            "pkg:deb/ubuntu/libc6@2.35-0ubuntu3.6?arch=arm64&distro=ubuntu-22.04",
        ),
        (purls.deb_purl("bash", "5.2", "", None), "pkg:deb/debian/bash@5.2"),
        (
            purls.apk_purl("musl", "1.2.5-r0", "x86_64", Distro("alpine", "3.20.3")),
            "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3",
        ),
        (
            purls.rpm_purl(
                "openssl-libs", "3.0.7-27.el9", "x86_64", 1, "openssl-3.0.7-27.el9.src.rpm", Distro("rhel", "9.4")
            ),
            "pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rhel-9.4&epoch=1&upstream=openssl-3.0.7-27.el9.src.rpm",
        ),
        (purls.pypi_purl("flask-login", "0.6.3"), "pkg:pypi/flask-login@0.6.3"),
        (purls.npm_purl("@babel/core", "7.24.0"), "pkg:npm/%40babel/core@7.24.0"),
        (purls.npm_purl("lodash", "4.17.21"), "pkg:npm/lodash@4.17.21"),
        (purls.golang_purl("golang.org/x/net", "0.17.0"), "pkg:golang/golang.org/x/net@v0.17.0"),
        (purls.golang_purl("stdlib", "1.22.1"), "pkg:golang/stdlib@v1.22.1"),
        (
            purls.maven_purl("org.apache.logging.log4j", "log4j-core", "2.14.1"),
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
        ),
    ],
)
def test_purls_follow_the_spec_of_their_type(purl: str, expected: str) -> None:
    assert purl == expected


def test_every_package_of_every_kind_has_a_purl_that_parses_back_to_its_name_and_version() -> None:
    site = "usr/lib/python3.11/site-packages"
    layers = inventory_layers(
        [
            debian_rootfs([Deb("libssl3", "3.0.11-1~deb12u2", source="openssl")]),
            {"lib/apk/db/installed": alpine_rootfs([Apk("musl", "1.2.5-r0")])["lib/apk/db/installed"]},
            {
                "var/lib/rpm/rpmdb.sqlite": rpm_rootfs([Rpm("bash", "5.1.8", "9.el9", epoch=2)])[
                    "var/lib/rpm/rpmdb.sqlite"
                ]
            },
            {
                **python_dist_info(site, "requests", "2.31.0"),
                **npm_package("app", "@scope/thing", "1.0.0"),
                "app/app.jar": jar([("com.example", "app", "1.0")]),
                "app/tool": Executable(synthetic_go_binary("go1.22.1", go_modinfo("example.com/a/tool", "v0.3.0"))),
            },
        ]
    )
    inventory = inventory_image(layers)
    kinds = {}
    for package in inventory.packages:
        parsed = PackageURL.from_string(package.purl)
        kinds[parsed.type] = parsed
        qualified = (
            f"{parsed.namespace}/{parsed.name}"
            if parsed.type in ("npm", "golang") and parsed.namespace
            else parsed.name
        )
        if parsed.type == "maven":
            qualified = f"{parsed.namespace}:{parsed.name}"
        assert qualified == package.name
        assert parsed.version in (package.version, "v" + package.version, package.version.split(":", 1)[-1])
    assert set(kinds) == {"deb", "apk", "rpm", "pypi", "npm", "maven", "golang"}
    assert kinds["rpm"].qualifiers["epoch"] == "2"
    assert kinds["deb"].qualifiers["distro"] == "debian-12"
