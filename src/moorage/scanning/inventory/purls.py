"""Package URLs (https://github.com/package-url/purl-spec) for every kind of package found.

OS packages carry the distribution as the namespace and the qualifiers `arch` and `distro`
(`ID-VERSION_ID`, as Syft writes them), so the same `openssl` of Debian 12 and of Ubuntu 22.04 get
different purls; rpm adds `epoch` and `upstream` (the source rpm). Language packages follow their
purl type's rules: PyPI names normalised, npm scopes as the namespace, Go module paths split at
the last `/` with a `v` version, Maven `groupId` as the namespace.
"""

from __future__ import annotations

from packageurl import PackageURL

from moorage.scanning.model import Distro


def _distro_qualifier(distro: Distro | None) -> dict[str, str]:
    if distro is None:
        return {}
    return {"distro": f"{distro.id}-{distro.version_id}" if distro.version_id else distro.id}


def deb_purl(name: str, version: str, arch: str, distro: Distro | None) -> str:
    qualifiers = {**({"arch": arch} if arch else {}), **_distro_qualifier(distro)}
    namespace = distro.id if distro else "debian"
    return PackageURL(type="deb", namespace=namespace, name=name, version=version, qualifiers=qualifiers).to_string()


def apk_purl(name: str, version: str, arch: str, distro: Distro | None) -> str:
    qualifiers = {**({"arch": arch} if arch else {}), **_distro_qualifier(distro)}
    namespace = distro.id if distro else "alpine"
    return PackageURL(type="apk", namespace=namespace, name=name, version=version, qualifiers=qualifiers).to_string()


def rpm_purl(name: str, version: str, arch: str, epoch: int | None, source_rpm: str, distro: Distro | None) -> str:
    """`version` is `VERSION-RELEASE`; the epoch goes in its own qualifier, as the purl spec asks."""
    qualifiers = {
        **({"arch": arch} if arch else {}),
        **({"epoch": str(epoch)} if epoch else {}),
        **_distro_qualifier(distro),
        **({"upstream": source_rpm} if source_rpm else {}),
    }
    namespace = {"rhel": "redhat"}.get(distro.id, distro.id) if distro else None
    return PackageURL(type="rpm", namespace=namespace, name=name, version=version, qualifiers=qualifiers).to_string()


def pypi_purl(name: str, version: str) -> str:
    return PackageURL(type="pypi", name=name, version=version).to_string()


def npm_purl(name: str, version: str) -> str:
    scope, _, bare = name.rpartition("/")
    return PackageURL(type="npm", namespace=scope or None, name=bare, version=version).to_string()


def golang_purl(module_path: str, version: str) -> str:
    """`version` as OSV writes it (`1.2.3`); purls of Go modules keep Go's `v1.2.3`."""
    namespace, _, name = module_path.rpartition("/")
    return PackageURL(type="golang", namespace=namespace or None, name=name, version="v" + version).to_string()


def maven_purl(group_id: str, artifact_id: str, version: str) -> str:
    return PackageURL(type="maven", namespace=group_id, name=artifact_id, version=version).to_string()
