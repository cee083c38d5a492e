"""Deciding an image's inventory: a pure function from layer summaries to an `Inventory`.

The rules, in the order they apply:

1. **The final file system.** Summaries stack lowest layer first with the OCI whiteout rules
   (`filesystem.stack`): a package database deleted in an upper layer contributes nothing, one
   replaced contributes only its new contents, and each piece of evidence remembers its layer.
2. **The distribution** comes from `os-release`, else `debian_version` / `alpine-release`
   (`distro.detect_distro`); it gives OS packages their OSV ecosystem (`Debian:12`) and purl
   qualifiers. An OS package of a distribution OSV does not cover (or of none detected) gets
   `ID:VERSION_ID` (or the package manager's name) as ecosystem, which no advisory names, so it is
   listed but never matched.
3. **OS packages** come from dpkg (`status`, and every file of `status.d/`), apk (`installed`) and
   rpm (`rpmdb.sqlite`); each names its source package (`source_name`, `source_version`), since
   distribution advisories are written against source packages. rpm's `gpg-pubkey` entries are keys,
   not packages, and are left out.
4. **Owned files.** The files an OS package installed (dpkg `info/*.list` and `*.md5sums`, apk
   `R:` lines, rpm file names) are the distribution's: language metadata among them (a
   `python3-requests` deb's `METADATA`, a Go binary from a deb) is not reported again as a PyPI,
   npm, Go or Maven package, because the distribution's advisories already cover it.
5. **Language packages**, from the evidence left: Python `METADATA`/`PKG-INFO` (PyPI), `package.json`
   under `node_modules` (npm), Go build information (`stdlib` at the toolchain's version, the main
   module when it has a released version, every dependency; Go), jar metadata (Maven, nested jars
   one level deep). Versions are written as OSV compares them (Go without the leading `v`).
6. Every package gets a purl and the path of its evidence (nested jars as `outer.jar!/inner.jar`);
   the list is sorted by ecosystem, name, version and path, without exact duplicates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from moorage.scanning.inventory import apk, dpkg, golang, java, language, purls, rpm
from moorage.scanning.inventory.distro import detect_distro
from moorage.scanning.inventory.filesystem import FileEntry, stack
from moorage.scanning.inventory.selection import (
    APK_INSTALLED,
    DPKG_STATUS,
    DPKG_STATUS_DIR,
    Interest,
    classify,
)
from moorage.scanning.inventory.summary import LayerSummary, RecordKind
from moorage.scanning.model import Distro, Inventory, Package


def resolve_inventory(layers: Sequence[tuple[str, LayerSummary]]) -> Inventory:
    """The inventory of the image whose layers (digest, summary), lowest first, are given."""
    files = stack(layers)
    texts = {path: entry.record.content for path, entry in files.items() if entry.record.kind is RecordKind.TEXT}
    distro = detect_distro(texts)
    packages: list[Package] = []
    owned: set[str] = set()
    for path, entry in sorted(files.items()):
        packages.extend(_os_packages(path, entry, distro, owned))
    for path, entry in sorted(files.items()):
        if "/" + path not in owned:
            packages.extend(_language_packages(path, entry))
    unique = {(p.ecosystem, p.name, p.version, p.path): p for p in packages}
    return Inventory(distro=distro, packages=tuple(unique[key] for key in sorted(unique)))


def _os_ecosystem(distro: Distro | None, manager: str) -> str:
    if distro is None:
        return manager
    return distro.osv_ecosystem or f"{distro.id}:{distro.version_id}"


def _os_packages(path: str, entry: FileEntry, distro: Distro | None, owned: set[str]) -> Iterable[Package]:
    record, where = entry.record, "/" + path
    if record.kind is RecordKind.RPMDB:
        for package in map(rpm.RpmPackage.from_json, record.json()):
            owned.update(package.files)
            if package.name == "gpg-pubkey":
                continue
            source = rpm.split_source_rpm(package.source_rpm)
            yield Package(
                name=package.name,
                version=package.evr,
                ecosystem=_os_ecosystem(distro, "rpm"),
                purl=purls.rpm_purl(
                    package.name,
                    f"{package.version}-{package.release}",
                    package.arch,
                    package.epoch,
                    package.source_rpm,
                    distro,
                ),
                source_name=source[0] if source else None,
                source_version=source[1] if source else None,
                path=where,
                layer_digest=entry.layer_digest,
            )
        return
    if record.kind is not RecordKind.TEXT:
        return
    interest = classify(path)
    if interest is Interest.DPKG_FILES:
        owned.update(line for line in record.content.splitlines() if line)
    elif interest is Interest.DPKG_STATUS and (path == DPKG_STATUS or path.startswith(DPKG_STATUS_DIR)):
        for deb in dpkg.parse_status(record.content):
            yield Package(
                name=deb.name,
                version=deb.version,
                ecosystem=_os_ecosystem(distro, "dpkg"),
                purl=purls.deb_purl(deb.name, deb.version, deb.architecture, distro),
                source_name=deb.source_name,
                source_version=deb.source_version,
                path=where,
                layer_digest=entry.layer_digest,
            )
    elif path == APK_INSTALLED:
        for alpine in apk.parse_installed(record.content):
            owned.update(alpine.files)
            yield Package(
                name=alpine.name,
                version=alpine.version,
                ecosystem=_os_ecosystem(distro, "apk"),
                purl=purls.apk_purl(alpine.name, alpine.version, alpine.architecture, distro),
                source_name=alpine.origin,
                source_version=alpine.version,
                path=where,
                layer_digest=entry.layer_digest,
            )


def _language_packages(path: str, entry: FileEntry) -> Iterable[Package]:
    record, where, layer = entry.record, "/" + path, entry.layer_digest
    if record.kind is RecordKind.GO_BUILDINFO:
        data = record.json()
        for module in golang.go_modules(golang.BuildInfo(data["go"], data["modinfo"])):
            purl = purls.golang_purl(module.path, module.version)
            yield Package(module.path, module.version, "Go", purl, path=where, layer_digest=layer)
    elif record.kind is RecordKind.JAR:
        for artifact in java.maven_artifacts(path, record.json()):
            purl = purls.maven_purl(artifact.group_id, artifact.artifact_id, artifact.version)
            location = f"{where}!/{artifact.inner_path}" if artifact.inner_path else where
            yield Package(artifact.name, artifact.version, "Maven", purl, path=location, layer_digest=layer)
    elif record.kind is RecordKind.TEXT:
        interest = classify(path)
        if interest is Interest.PYTHON:
            found = language.parse_python_metadata(record.content)
            if found:
                yield Package(found[0], found[1], "PyPI", purls.pypi_purl(*found), path=where, layer_digest=layer)
        elif interest is Interest.NPM:
            found = language.parse_package_json(record.content)
            if found:
                yield Package(found[0], found[1], "npm", purls.npm_purl(*found), path=where, layer_digest=layer)
