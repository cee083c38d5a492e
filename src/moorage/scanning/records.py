"""Scan values as JSON documents (how the metadata store keeps them and the API shows them), and back.

The documents use the model's field names, so a stored finding reads like the API's; unknown keys
are ignored when reading, so a document written by a later version stays readable.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from moorage.scanning.model import Distro, Finding, Inventory, Package, Severity


def package_document(package: Package) -> dict[str, Any]:
    return asdict(package)


def package_from(document: dict[str, Any]) -> Package:
    return Package(
        name=str(document["name"]),
        version=str(document["version"]),
        ecosystem=str(document.get("ecosystem", "")),
        purl=str(document.get("purl", "")),
        source_name=document.get("source_name"),
        source_version=document.get("source_version"),
        path=str(document.get("path", "")),
        layer_digest=document.get("layer_digest"),
    )


def inventory_document(inventory: Inventory) -> dict[str, Any]:
    return {
        "distro": asdict(inventory.distro) if inventory.distro is not None else None,
        "packages": [package_document(package) for package in inventory.packages],
    }


def inventory_from(document: dict[str, Any]) -> Inventory:
    distro = document.get("distro")
    return Inventory(
        distro=Distro(str(distro["id"]), str(distro["version_id"]), distro.get("pretty_name")) if distro else None,
        packages=tuple(package_from(package) for package in document.get("packages") or ()),
    )


def finding_document(finding: Finding) -> dict[str, Any]:
    document = asdict(finding)
    document["severity"] = finding.severity.value
    document["aliases"] = list(finding.aliases)
    document["links"] = list(finding.links)
    return document


def finding_from(document: dict[str, Any]) -> Finding:
    try:
        severity = Severity(document.get("severity", Severity.UNKNOWN))
    except ValueError:
        severity = Severity.UNKNOWN
    score = document.get("cvss_score")
    return Finding(
        vulnerability_id=str(document["vulnerability_id"]),
        package=package_from(document["package"]),
        severity=severity,
        aliases=tuple(str(alias) for alias in document.get("aliases") or ()),
        summary=str(document.get("summary") or ""),
        fixed_version=document.get("fixed_version"),
        cvss_score=float(score) if score is not None else None,
        cvss_vector=document.get("cvss_vector"),
        severity_source=str(document.get("severity_source") or ""),
        links=tuple(str(link) for link in document.get("links") or ()),
    )
