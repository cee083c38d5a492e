"""Python distributions: dist-info, egg-info (directory and file), names as PyPI compares them."""

from __future__ import annotations

import pytest

from moorage.scanning.inventory import inventory_image
from moorage.scanning.inventory.language import normalise_python_name, parse_python_metadata
from tests.support.scan_images import inventory_layers, python_dist_info, python_egg_info

SITE = "usr/local/lib/python3.12/site-packages"


def packages(files: dict) -> set[tuple[str, str, str]]:  # type: ignore[type-arg]
    return {(p.name, p.version, p.path) for p in inventory_image(inventory_layers([files])).packages}


def test_dist_info_egg_info_and_single_file_egg_info_are_found() -> None:
    files = {
        **python_dist_info(SITE, "requests", "2.31.0"),
        **python_egg_info(SITE, "legacy", "0.1"),
        **python_egg_info("usr/lib/python3/dist-packages", "six", "1.16.0", single_file=True),
    }
    assert packages(files) == {
        ("requests", "2.31.0", f"/{SITE}/requests-2.31.0.dist-info/METADATA"),
        ("legacy", "0.1", f"/{SITE}/legacy-0.1.egg-info/PKG-INFO"),
        ("six", "1.16.0", "/usr/lib/python3/dist-packages/six-1.16.0.egg-info"),
    }


def test_every_package_is_in_the_pypi_ecosystem_with_a_pypi_purl() -> None:
    (package,) = inventory_image(inventory_layers([python_dist_info(SITE, "Flask_Login", "0.6.3")])).packages
    assert (package.ecosystem, package.name, package.purl) == ("PyPI", "flask-login", "pkg:pypi/flask-login@0.6.3")


@pytest.mark.parametrize(
    ("name", "normalised"), [("Django", "django"), ("zope.interface", "zope-interface"), ("A__b-.c", "a-b-c")]
)
def test_names_are_normalised_as_pep_503_says(name: str, normalised: str) -> None:
    assert normalise_python_name(name) == normalised


def test_headers_end_at_the_first_blank_line() -> None:
    text = "Metadata-Version: 2.1\nName: real\nVersion: 1.0\n\nName: fake\nVersion: 6.6.6\n"
    assert parse_python_metadata(text) == ("real", "1.0")


def test_metadata_without_a_version_is_not_a_package() -> None:
    assert parse_python_metadata("Metadata-Version: 2.1\nName: half\n") is None


def test_the_same_package_in_two_environments_is_listed_twice() -> None:
    files = {
        **python_dist_info(SITE, "idna", "3.6"),
        **python_dist_info("opt/venv/lib/python3.12/site-packages", "idna", "3.6"),
    }
    assert len(packages(files)) == 2


def test_an_unzipped_egg_is_found_by_its_egg_info() -> None:
    egg = f"{SITE}/pyyaml-5.3-py3.8-linux-x86_64.egg/EGG-INFO/PKG-INFO"
    assert packages({egg: b"Metadata-Version: 1.1\nName: PyYAML\nVersion: 5.3\n"}) == {("pyyaml", "5.3", "/" + egg)}


def test_metadata_outside_a_dist_info_directory_is_ignored() -> None:
    assert packages({f"{SITE}/not-a-dist/METADATA": b"Name: x\nVersion: 1\n"}) == set()
