"""The values scanning passes between its parts: what an image contains and what is wrong with it.

The inventory produces `Inventory` (a distribution and `Package`s); the matcher turns packages and
vulnerability records into `Finding`s; findings are stored per image digest and judged by the gates.
Ecosystem names are OSV's (https://ossf.github.io/osv-schema/#affectedpackage-field), so a package
and an advisory meet on the same string.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Severity(StrEnum):
    """One severity scale for every source (distribution rating, CVSS, database-specific)."""

    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    UNKNOWN = "UNKNOWN"

    @property
    def rank(self) -> int:
        """Higher is worse; UNKNOWN ranks lowest, so a threshold never trips on an unrated finding alone."""
        return _RANKS[self]

    def at_least(self, threshold: Severity) -> bool:
        return self.rank >= threshold.rank


_RANKS = {
    Severity.UNKNOWN: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


@dataclass(frozen=True)
class Distro:
    """The operating system of an image's final file system, from `os-release` and friends."""

    id: str
    """`ID` from os-release, lower case: `debian`, `ubuntu`, `alpine`, `rhel`, `rocky`, `almalinux`, `fedora`…"""
    version_id: str
    """`VERSION_ID` (`12`, `3.20.3`, `9.4`), or the contents of `debian_version` / `alpine-release`."""
    pretty_name: str | None = None

    @property
    def osv_ecosystem(self) -> str | None:
        """The OSV ecosystem its OS packages belong to (`Debian:12`, `Alpine:v3.20`), or None if OSV has none."""
        major = self.version_id.split(".")[0]
        if self.id == "debian":
            return f"Debian:{major}"
        if self.id == "ubuntu":
            return f"Ubuntu:{self.version_id}"
        if self.id == "alpine":
            major_minor = ".".join(self.version_id.split(".")[:2])
            return f"Alpine:v{major_minor}"
        if self.id == "rocky":
            return f"Rocky Linux:{major}"
        if self.id == "almalinux":
            return f"AlmaLinux:{major}"
        if self.id in {"rhel", "centos"}:
            return "Red Hat"
        return None


@dataclass(frozen=True)
class Package:
    """One installed package, as the final file system shows it."""

    name: str
    version: str
    ecosystem: str
    """The OSV ecosystem: `Debian:12`, `Alpine:v3.20`, `Red Hat`, `PyPI`, `npm`, `Go`, `Maven`…"""
    purl: str
    """The package URL (packageurl-python), e.g. `pkg:deb/debian/openssl@3.0.11-1?arch=amd64&distro=debian-12`."""
    source_name: str | None = None
    """The source package an OS package was built from (dpkg `Source:`, apk `o:`, rpm SOURCERPM name)."""
    source_version: str | None = None
    path: str = ""
    """Where the package was found in the file system (its package database or metadata file)."""
    layer_digest: str | None = None
    """The layer that last wrote that file."""


@dataclass(frozen=True)
class Inventory:
    """Everything installed in one image (one platform), and the OS it runs on."""

    distro: Distro | None
    packages: tuple[Package, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One vulnerability affecting one package of an image."""

    vulnerability_id: str
    package: Package
    severity: Severity
    aliases: tuple[str, ...] = ()
    summary: str = ""
    fixed_version: str | None = None
    cvss_score: float | None = None
    cvss_vector: str | None = None
    severity_source: str = ""
    """Where the severity came from: `distribution`, `cvss_v3`, `cvss_v4`, `database_specific`, `alias:<id>`."""
    links: tuple[str, ...] = field(default_factory=tuple)


class ScanStatus(StrEnum):
    """Where the scan of one image digest stands (the states of ECR's `imageScanStatus`)."""

    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    UNSUPPORTED_IMAGE = "UNSUPPORTED_IMAGE"


@dataclass(frozen=True)
class ScanReport:
    """The latest scan of one image manifest digest: its state and, once complete, its findings.

    Findings belong to a digest, not to a repository: the same bytes have the same packages wherever
    they are pushed.
    """

    digest: str
    status: ScanStatus
    reason: str | None = None
    """Why a scan FAILED or the image is UNSUPPORTED_IMAGE."""
    database_version: str | None = None
    """The vulnerability database version the findings were matched against."""
    completed_at: datetime | None = None
    findings: tuple[Finding, ...] = ()

    def counts(self) -> dict[Severity, int]:
        """Findings per severity, every severity present (zero when none)."""
        totals = dict.fromkeys(Severity, 0)
        for finding in self.findings:
            totals[finding.severity] += 1
        return totals
