"""npm: `package.json` at a package's root under `node_modules`, scoped or not, nested or not."""

from __future__ import annotations

from moorage.scanning.inventory import inventory_image
from tests.support.scan_images import inventory_layers, npm_package


def packages(files: dict) -> set[tuple[str, str, str]]:  # type: ignore[type-arg]
    return {(p.name, p.version, p.purl) for p in inventory_image(inventory_layers([files])).packages}


def test_scoped_unscoped_and_nested_packages_are_found() -> None:
    files = {
        **npm_package("app", "express", "4.18.2"),
        **npm_package("app", "@babel/core", "7.24.0"),
        **npm_package("app/node_modules/express", "qs", "6.11.0"),
        **npm_package("usr/lib", "npm", "10.2.4"),
    }
    assert packages(files) == {
        ("express", "4.18.2", "pkg:npm/express@4.18.2"),
        ("@babel/core", "7.24.0", "pkg:npm/%40babel/core@7.24.0"),
        ("qs", "6.11.0", "pkg:npm/qs@6.11.0"),
        ("npm", "10.2.4", "pkg:npm/npm@10.2.4"),
    }


def test_a_package_json_below_a_package_root_is_not_a_package() -> None:
    files = {
        "app/node_modules/express/lib/package.json": b'{"name": "inner", "version": "0.0.1"}',
        "app/package.json": b'{"name": "the-app", "version": "1.0.0"}',
    }
    assert packages(files) == set()


def test_broken_or_incomplete_package_json_is_ignored() -> None:
    files = {
        "app/node_modules/broken/package.json": b"{not json",
        "app/node_modules/noversion/package.json": b'{"name": "noversion"}',
        "app/node_modules/list/package.json": b"[1, 2]",
        "app/node_modules/numeric/package.json": b'{"name": "numeric", "version": 1}',
    }
    assert packages(files) == set()


def test_every_package_is_in_the_npm_ecosystem() -> None:
    (package,) = inventory_image(inventory_layers([npm_package("srv", "lodash", "4.17.20")])).packages
    assert (package.ecosystem, package.path) == ("npm", "/srv/node_modules/lodash/package.json")
