"""The software bill of materials of an image: its inventory as a CycloneDX 1.6 JSON document.

The document is pushed as a referrer of the image (`artifactType` `SBOM_MEDIA_TYPE`), so `oras
discover` lists it and any CycloneDX tool reads it. It describes the image as the BOM's subject
(`metadata.component`: a `container` with a `pkg:oci` purl naming the digest), the distribution as
an `operating-system` component and every package as a `library` with its purl and, as `moorage:`
properties, where it was found (path, layer, OSV ecosystem, source package); moorage itself is
named as the tool that wrote it.

The bytes are a function of the inventory and the image alone: the serial number is derived from
them and the timestamp is left out, so re-scanning an unchanged image yields the same document (and
digest), and pushing it again adds no second referrer.

Each element (the metadata, every component) is built and serialised by cyclonedx-python-lib; the
document around them (components in inventory order, a flat dependency graph: the image depends on
every component) is assembled here, because the library's whole-BOM output sorts components with an
expensive comparison and validates the dependency graph in quadratic time (measured: about 200 s for
5,000 packages, where this takes seconds). The tests validate the result against the CycloneDX schema.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from packageurl import PackageURL

from moorage import __version__
from moorage.scanning.model import Inventory, Package

if TYPE_CHECKING:
    from cyclonedx.model.component import Component

SBOM_MEDIA_TYPE = "application/vnd.cyclonedx+json"
"""The artifact type of the SBOM referrer, and the media type of its one layer."""

_SCHEMA_URI = "http://cyclonedx.org/schema/bom-1.6.schema.json"
_NAMESPACE = uuid.UUID("5b0f7c0e-8e5e-4d64-9a55-6a1f8f5c2a10")  # moorage's namespace for serial numbers


def cyclonedx_sbom(inventory: Inventory, image_name: str, image_digest: str) -> bytes:
    """The CycloneDX JSON (spec 1.6) of `inventory`, for the image `image_name@image_digest`.

    The library (9 MB) is imported here, when an SBOM is made, not when the server starts.
    """
    from cyclonedx.model.bom import BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.tool import ToolRepository

    image = Component(
        type=ComponentType.CONTAINER,
        name=image_name,
        version=image_digest,
        bom_ref=f"image:{image_digest}",
        purl=_oci_purl(image_name, image_digest),
    )
    components: list[Component] = []
    if inventory.distro is not None:
        distro = inventory.distro
        components.append(
            Component(
                type=ComponentType.OPERATING_SYSTEM,
                name=distro.id,
                version=distro.version_id or None,
                description=distro.pretty_name,
                bom_ref=f"os:{distro.id}:{distro.version_id}",
            )
        )
    components.extend(_package_component(number, package) for number, package in enumerate(inventory.packages))
    tool = Component(type=ComponentType.APPLICATION, name="moorage", version=__version__)
    metadata = _element(BomMetaData(component=image, tools=ToolRepository(components=[tool])))
    metadata.pop("timestamp", None)  # optional; the library always sets it to now
    refs = [str(component.bom_ref.value) for component in components]
    document = {
        "$schema": _SCHEMA_URI,
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": uuid.uuid5(_NAMESPACE, image_digest + "\n" + "\n".join(_identity(inventory))).urn,
        "version": 1,
        "metadata": metadata,
        "components": [_element(component) for component in components],
        "dependencies": [{"ref": str(image.bom_ref.value), "dependsOn": refs}, *({"ref": ref} for ref in refs)],
    }
    return json.dumps(document, separators=(",", ":")).encode()


def _element(value: Any) -> dict[str, Any]:
    """One model object as the library serialises it for CycloneDX 1.6."""
    from cyclonedx.schema.schema import SchemaVersion1Dot6

    serialised: dict[str, Any] = json.loads(value.as_json(view_=SchemaVersion1Dot6))
    return serialised


def _package_component(number: int, package: Package) -> Component:
    from cyclonedx.model import Property
    from cyclonedx.model.component import Component, ComponentType

    properties = [
        Property(name="moorage:package:ecosystem", value=package.ecosystem),
        Property(name="moorage:package:path", value=package.path),
    ]
    if package.layer_digest:
        properties.append(Property(name="moorage:package:layer_digest", value=package.layer_digest))
    if package.source_name:
        properties.append(Property(name="moorage:package:source_name", value=package.source_name))
    if package.source_version:
        properties.append(Property(name="moorage:package:source_version", value=package.source_version))
    return Component(
        type=ComponentType.LIBRARY,
        name=package.name,
        version=package.version,
        purl=PackageURL.from_string(package.purl),
        # The same purl can be found at two paths (two copies of a jar); the ref must stay unique.
        bom_ref=f"pkg:{number}:{package.purl}",
        properties=properties,
    )


def _oci_purl(image_name: str, image_digest: str) -> PackageURL:
    """`pkg:oci/NAME@DIGEST?repository_url=IMAGE_NAME` (purl-spec's `oci` type)."""
    name = image_name.rsplit("/", 1)[-1].lower()
    return PackageURL(type="oci", name=name, version=image_digest, qualifiers={"repository_url": image_name})


def _identity(inventory: Inventory) -> Iterable[str]:
    if inventory.distro is not None:
        yield f"os {inventory.distro.id} {inventory.distro.version_id}"
    for package in inventory.packages:
        yield f"{package.purl} {package.path} {package.layer_digest}"
