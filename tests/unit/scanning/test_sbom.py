"""The CycloneDX SBOM: a valid document naming the image and every package by purl."""

from __future__ import annotations

import json

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

from moorage.scanning.inventory import inventory_image
from moorage.scanning.model import Inventory
from moorage.scanning.sbom import SBOM_MEDIA_TYPE, cyclonedx_sbom
from tests.support.go_binaries import go_modinfo, synthetic_go_binary
from tests.support.scan_images import (
    Deb,
    Executable,
    debian_rootfs,
    inventory_layers,
    jar,
    npm_package,
    python_dist_info,
)

DIGEST = "sha256:" + "ab" * 32


def image_inventory() -> Inventory:
    site = "usr/lib/python3/dist-packages"
    return inventory_image(
        inventory_layers(
            [
                debian_rootfs([Deb("libssl3", "3.0.11-1~deb12u2", source="openssl"), Deb("bash", "5.2.15-2+b2")]),
                {
                    **python_dist_info(site, "requests", "2.31.0"),
                    **python_dist_info("opt/venv/lib/python3.11/site-packages", "requests", "2.31.0"),
                    **npm_package("app", "@babel/core", "7.24.0"),
                    "app/app.jar": jar([("com.example", "app", "1.0")]),
                    "app/tool": Executable(synthetic_go_binary("go1.22.1", go_modinfo("example.com/tool", "v0.3.0"))),
                },
            ]
        )
    )


def validate(document: bytes) -> None:
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(document.decode())
    assert error is None, error


def test_the_sbom_is_valid_cyclonedx_1_6() -> None:
    document = cyclonedx_sbom(image_inventory(), "registry.example/team/app", DIGEST)
    validate(document)
    parsed = json.loads(document)
    assert (parsed["bomFormat"], parsed["specVersion"]) == ("CycloneDX", "1.6")
    assert SBOM_MEDIA_TYPE == "application/vnd.cyclonedx+json"
    assert [tool["name"] for tool in parsed["metadata"]["tools"]["components"]] == ["moorage"]


def test_the_sbom_names_the_image_by_digest_and_lists_every_package_by_purl() -> None:
    inventory = image_inventory()
    parsed = json.loads(cyclonedx_sbom(inventory, "team/app", DIGEST))
    subject = parsed["metadata"]["component"]
    assert (subject["type"], subject["name"], subject["version"]) == ("container", "team/app", DIGEST)
    image_purl = PackageURL.from_string(subject["purl"])
    assert (image_purl.type, image_purl.name, image_purl.version) == ("oci", "app", DIGEST)
    assert image_purl.qualifiers == {"repository_url": "team/app"}
    libraries = [c for c in parsed["components"] if c["type"] == "library"]
    assert sorted(c["purl"] for c in libraries) == sorted(p.purl for p in inventory.packages)
    assert len(libraries) == len(inventory.packages), "the same purl at two paths stays two components"
    (os_component,) = [c for c in parsed["components"] if c["type"] == "operating-system"]
    assert (os_component["name"], os_component["version"]) == ("debian", "12")
    libssl = next(c for c in libraries if c["name"] == "libssl3")
    properties = {p["name"]: p["value"] for p in libssl["properties"]}
    assert properties["moorage:package:source_name"] == "openssl"
    assert properties["moorage:package:ecosystem"] == "Debian:12"
    assert properties["moorage:package:path"] == "/var/lib/dpkg/status"
    (dependencies,) = [d for d in parsed["dependencies"] if d["ref"] == subject["bom-ref"]]
    assert len(dependencies["dependsOn"]) == len(parsed["components"])


def test_the_same_inventory_gives_the_same_bytes() -> None:
    inventory = image_inventory()
    assert cyclonedx_sbom(inventory, "team/app", DIGEST) == cyclonedx_sbom(inventory, "team/app", DIGEST)
    assert cyclonedx_sbom(inventory, "team/app", DIGEST) != cyclonedx_sbom(inventory, "team/app", "sha256:" + "cd" * 32)


def test_an_image_with_nothing_inside_still_has_a_valid_sbom() -> None:
    document = cyclonedx_sbom(Inventory(distro=None), "scratch", DIGEST)
    validate(document)
    assert json.loads(document).get("components", []) == []
