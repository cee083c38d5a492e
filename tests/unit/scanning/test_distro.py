"""The distribution of the final file system, from os-release and its older companions."""

from __future__ import annotations

from moorage.scanning.inventory import inventory_image
from moorage.scanning.inventory.distro import detect_distro, parse_os_release
from moorage.scanning.model import Distro
from tests.support.scan_images import Symlink, inventory_layers, os_release


def test_os_release_is_read_with_shell_quoting_and_comments() -> None:
    text = '# comment\nNAME="Ubuntu"\nID=ubuntu\nVERSION_ID="22.04"\nPRETTY_NAME=\'Ubuntu 22.04.4 LTS\'\nBROKEN\n'
    assert parse_os_release(text) == {
        "NAME": "Ubuntu",
        "ID": "ubuntu",
        "VERSION_ID": "22.04",
        "PRETTY_NAME": "Ubuntu 22.04.4 LTS",
    }
    assert detect_distro({"etc/os-release": text}) == Distro("ubuntu", "22.04", "Ubuntu 22.04.4 LTS")


def test_etc_os_release_wins_over_the_vendor_file() -> None:
    texts = {"etc/os-release": "ID=rocky\nVERSION_ID=9.4\n", "usr/lib/os-release": "ID=rhel\nVERSION_ID=9.4\n"}
    distro = detect_distro(texts)
    assert distro is not None and distro.osv_ecosystem == "Rocky Linux:9"


def test_a_symlinked_etc_os_release_falls_back_to_the_vendor_file() -> None:
    layers = inventory_layers(
        [
            {"etc/os-release": os_release("alpine", "3.18.0")},
            {"etc/os-release": Symlink("../usr/lib/os-release"), "usr/lib/os-release": os_release("debian", "12")},
        ]
    )
    assert inventory_image(layers).distro == Distro("debian", "12", "debian 12")


def test_debian_version_alone_means_debian() -> None:
    distro = detect_distro({"etc/debian_version": "11.9\n"})
    assert distro == Distro("debian", "11.9") and distro.osv_ecosystem == "Debian:11"


def test_alpine_release_alone_means_alpine() -> None:
    distro = detect_distro({"etc/alpine-release": "3.20.3\n"})
    assert distro is not None and distro.osv_ecosystem == "Alpine:v3.20"


def test_debian_testing_without_version_id_takes_debian_version() -> None:
    texts = {
        "etc/os-release": 'ID=debian\nPRETTY_NAME="Debian GNU/Linux trixie/sid"\n',
        "etc/debian_version": "trixie/sid\n",
    }
    distro = detect_distro(texts)
    assert distro is not None and distro.version_id == "trixie/sid"


def test_an_os_release_without_id_is_not_a_distribution() -> None:
    assert detect_distro({"etc/os-release": "NAME=whatever\n"}) is None
    assert detect_distro({}) is None


def test_a_distribution_deleted_in_an_upper_layer_is_gone() -> None:
    layers = inventory_layers([{"etc/os-release": os_release("alpine", "3.20.3")}, {"etc/.wh.os-release": b""}])
    assert inventory_image(layers).distro is None
