"""dpkg: `status`, distroless `status.d/`, source packages, and the files packages own."""

from __future__ import annotations

from moorage.scanning.inventory import inventory_image
from moorage.scanning.inventory.dpkg import DpkgPackage, parse_status
from tests.support.go_binaries import go_modinfo, synthetic_go_binary
from tests.support.scan_images import (
    Deb,
    Executable,
    Symlink,
    debian_rootfs,
    distroless_rootfs,
    dpkg_stanza,
    inventory_layers,
    python_dist_info,
)


def test_status_lists_installed_packages_with_their_source_packages() -> None:
    text = "\n".join(
        dpkg_stanza(deb)
        for deb in [
            Deb("libssl3", "3.0.11-1~deb12u2", source="openssl"),
            Deb("libc6", "2.36-9+deb12u4+b1", source="glibc (2.36-9+deb12u4)"),
            Deb("bash", "5.2.15-2+b2", arch="arm64"),
        ]
    )
    assert parse_status(text) == [
        DpkgPackage("libssl3", "3.0.11-1~deb12u2", "amd64", "openssl", "3.0.11-1~deb12u2"),
        DpkgPackage("libc6", "2.36-9+deb12u4+b1", "amd64", "glibc", "2.36-9+deb12u4"),
        DpkgPackage("bash", "5.2.15-2+b2", "arm64", "bash", "5.2.15-2+b2"),
    ]


def test_removed_packages_are_not_installed() -> None:
    text = "\n".join(
        dpkg_stanza(deb)
        for deb in [
            Deb("gone", "1.0", status="deinstall ok config-files"),
            Deb("half", "1.0", status="install reinstreq half-installed"),
            Deb("kept", "2.0"),
        ]
    )
    assert [p.name for p in parse_status(text)] == ["kept"]


def test_packages_carry_the_debian_ecosystem_and_where_they_were_found() -> None:
    layers = inventory_layers([debian_rootfs([Deb("libssl3", "3.0.11-1~deb12u2", source="openssl")])])
    (package,) = inventory_image(layers).packages
    assert (package.ecosystem, package.source_name, package.path) == ("Debian:12", "openssl", "/var/lib/dpkg/status")
    assert package.layer_digest == layers[0].digest


def test_distroless_status_d_lists_one_package_per_file() -> None:
    debs = [Deb("base-files", "12.4+deb12u5"), Deb("libssl3", "3.0.11-1~deb12u2", source="openssl")]
    inventory = inventory_image(inventory_layers([distroless_rootfs(debs)]))
    assert {(p.name, p.source_name, p.path) for p in inventory.packages} == {
        ("base-files", "base-files", "/var/lib/dpkg/status.d/base-files"),
        ("libssl3", "openssl", "/var/lib/dpkg/status.d/libssl3"),
    }


def test_python_metadata_owned_by_a_deb_is_not_reported_again_as_pypi() -> None:
    site = "usr/lib/python3/dist-packages"
    deb = Deb(
        "python3-requests", "2.28.1+dfsg-1", source="requests", files=(f"/{site}/requests-2.28.1.dist-info/METADATA",)
    )
    layers = inventory_layers(
        [
            debian_rootfs([deb]),
            {**python_dist_info(site, "requests", "2.28.1"), **python_dist_info(site, "idna", "3.6")},
        ]
    )
    assert {(p.name, p.ecosystem) for p in inventory_image(layers).packages} == {
        ("python3-requests", "Debian:12"),
        ("idna", "PyPI"),
    }


def test_distroless_md5sums_own_files_too() -> None:
    site = "usr/lib/python3/dist-packages"
    deb = Deb("python3-six", "1.16.0-4", source="six", files=(f"/{site}/six-1.16.0.dist-info/METADATA",))
    layers = inventory_layers([{**distroless_rootfs([deb]), **python_dist_info(site, "six", "1.16.0")}])
    assert [p.name for p in inventory_image(layers).packages] == ["python3-six"]


def test_a_list_file_deleted_with_its_package_no_longer_owns_anything() -> None:
    site = "usr/lib/python3/dist-packages"
    deb = Deb("python3-six", "1.16.0-4", files=(f"/{site}/six-1.16.0.dist-info/METADATA",))
    lower = {**debian_rootfs([deb]), **python_dist_info(site, "six", "1.16.0")}
    upper = {"var/lib/dpkg/info/.wh.python3-six.list": b"", "var/lib/dpkg/.wh.status": b""}
    assert [(p.name, p.ecosystem) for p in inventory_image(inventory_layers([lower, upper])).packages] == [
        ("six", "PyPI")
    ]


def test_ownership_holds_across_merged_usr_paths() -> None:
    # Debian 12 is merged-/usr: a package may list /bin/tool while the image holds usr/bin/tool.
    binary = Executable(synthetic_go_binary("go1.19.8", go_modinfo("github.com/docker/cli", "v20.10.24")))
    deb = Deb("docker-cli", "20.10.24+dfsg1-1+b3", source="docker.io", files=("/bin/docker",))
    layers = inventory_layers([{**debian_rootfs([deb]), "bin": Symlink("usr/bin"), "usr/bin/docker": binary}])
    assert [p.name for p in inventory_image(layers).packages] == ["docker-cli"]


def test_the_summary_keeps_only_owned_files_that_may_be_evidence() -> None:
    from moorage.scanning.inventory import summarise_layer
    from tests.support.scan_images import as_layer, gzip_layer

    files = (
        "/usr/bin/tool",
        "/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
        "/usr/lib/python3/dist-packages/six.py",
        "/usr/share/doc/six/copyright",
        "/usr/share/java/commons-io.jar",
        "/usr/include/six.h",
    )
    summary = summarise_layer(as_layer(gzip_layer(debian_rootfs([Deb("six", "1.16.0-4", files=files)]))))
    assert summary.files["var/lib/dpkg/info/six.list"].content.splitlines() == [
        "/usr/bin/tool",
        "/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
        "/usr/share/java/commons-io.jar",
    ]


def test_empty_or_root_only_file_lists_own_nothing() -> None:
    files = {**debian_rootfs([Deb("a", "1")]), "var/lib/dpkg/info/a.list": b"", "var/lib/dpkg/info/b.list": b"/.\n"}
    assert [p.name for p in inventory_image(inventory_layers([files])).packages] == ["a"]
