"""Tiny images for the scanner, built in memory: layers, root file systems and package databases.

Layers are tar blobs (plain, gzip or zstd) made from a mapping path -> content, where content is
bytes (a regular file) or a `Symlink` / `Hardlink` / `Directory` / `Raw` entry; whiteouts are just
files named `.wh.NAME` or `.wh..wh..opq`. Root file systems are mappings too, so a test composes
an image as `[debian_rootfs(...), {**python_dist_info(...), "app/tool": Executable(...)}]` and
reads it with `inventory_layers(...)`, or writes it as an OCI layout for skopeo with `write_scan_image(...)`.

Package databases are written in their real formats: dpkg `status` stanzas and `info/*.list`, apk
`installed` paragraphs, an rpm `rpmdb.sqlite` whose `Packages` blobs are rpm headers built here
(`rpm_header`), Python `METADATA`, npm `package.json` and a jar (a real zip); Go binaries come from
`tests.support.go_binaries`. `sample_image` puts one package of every kind in a three-layer image.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sqlite3
import struct
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import zstandard

from moorage.domain import media_types
from moorage.scanning.inventory import Layer
from tests.support.go_binaries import go_modinfo, synthetic_go_binary
from tests.support.oci_layout import Image, LayerBlob, blob_path, sha256_digest, write_image_from_blobs

# --- entries and layers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Symlink:
    target: str


@dataclass(frozen=True)
class Hardlink:
    target: str


@dataclass(frozen=True)
class Directory:
    pass


@dataclass(frozen=True)
class Executable:
    data: bytes


@dataclass(frozen=True)
class Raw:
    """A member written exactly as given: any name (`../x`, `/etc/x`), type and declared size."""

    data: bytes = b""
    type: bytes = tarfile.REGTYPE
    size: int | None = None


Entry = bytes | Symlink | Hardlink | Directory | Executable | Raw
Files = Mapping[str, Entry]


def tar_bytes(files: Files) -> bytes:
    """A deterministic tar of `files`, in the order given (order matters for duplicates and links)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, entry in files.items():
            info = tarfile.TarInfo(name)
            info.mtime, info.mode = 0, 0o644
            data = b""
            if isinstance(entry, bytes):
                data = entry
            elif isinstance(entry, Executable):
                data, info.mode = entry.data, 0o755
            elif isinstance(entry, Symlink):
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, entry.target, 0o777
            elif isinstance(entry, Hardlink):
                info.type, info.linkname = tarfile.LNKTYPE, entry.target
            elif isinstance(entry, Directory):
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            else:
                info.type, data = entry.type, entry.data
            info.size = len(data)
            if isinstance(entry, Raw) and entry.size is not None:
                info.size = entry.size
                archive.addfile(info)  # header only: the declared size is a lie the reader must survive
                archive.fileobj.write(data)
                continue
            archive.addfile(info, io.BytesIO(data) if data else None)
    return buffer.getvalue()


def gzip_layer(files: Files) -> LayerBlob:
    tar = tar_bytes(files)
    return LayerBlob(gzip.compress(tar, mtime=0), sha256_digest(tar), media_types.OCI_LAYER_GZIP)


def zstd_layer(files: Files) -> LayerBlob:
    tar = tar_bytes(files)
    return LayerBlob(zstandard.ZstdCompressor().compress(tar), sha256_digest(tar), media_types.OCI_LAYER_ZSTD)


def plain_layer(files: Files) -> LayerBlob:
    tar = tar_bytes(files)
    return LayerBlob(tar, sha256_digest(tar), media_types.OCI_LAYER_TAR)


def docker_layer(files: Files) -> LayerBlob:
    tar = tar_bytes(files)
    return LayerBlob(gzip.compress(tar, mtime=0), sha256_digest(tar), media_types.DOCKER_LAYER_GZIP)


def as_layer(blob: LayerBlob, opened: list[str] | None = None) -> Layer:
    """The scanner's view of a blob; `opened` (if given) records each digest opened, to count reads."""

    def open_blob() -> BinaryIO:
        if opened is not None:
            opened.append(blob.digest)
        return io.BytesIO(blob.data)

    return Layer(blob.digest, blob.media_type, open_blob)


def inventory_layers(files_per_layer: Iterable[Files], make: Callable[[Files], LayerBlob] = gzip_layer) -> list[Layer]:
    """One scanner `Layer` per mapping, each made by `make` (gzip by default)."""
    return [as_layer(make(files)) for files in files_per_layer]


def write_scan_image(layout_dir: Path, tag: str, blobs: Sequence[LayerBlob], **options: Any) -> Image:
    """Write an image of these layer blobs into an OCI layout, for skopeo's `oci:DIR:TAG`.

    Options go to `oci_layout.write_image_from_blobs` (`platform`, `config_extra`, `annotations`).
    """
    return write_image_from_blobs(layout_dir, tag, blobs, **options)


def layout_layers(layout_dir: Path, image: Image) -> list[Layer]:
    """The scanner's view of an image written into a layout, reading the blobs from disk as a registry would."""
    return [
        Layer(layer.digest, layer.media_type, lambda digest=layer.digest: blob_path(layout_dir, digest).open("rb"))
        for layer in image.layers
    ]


# --- distributions ------------------------------------------------------------------------------------


def os_release(distro_id: str, version_id: str, pretty_name: str | None = None) -> bytes:
    pretty = pretty_name or f"{distro_id} {version_id}"
    return f'PRETTY_NAME="{pretty}"\nNAME="{distro_id}"\nID={distro_id}\nVERSION_ID="{version_id}"\n'.encode()


@dataclass(frozen=True)
class Deb:
    name: str
    version: str
    arch: str = "amd64"
    source: str | None = None
    """The `Source:` field as dpkg writes it: `openssl` or `glibc (2.36-9)`."""
    status: str = "install ok installed"
    files: tuple[str, ...] = ()


def dpkg_stanza(deb: Deb) -> str:
    lines = [f"Package: {deb.name}", f"Status: {deb.status}", "Priority: optional", f"Architecture: {deb.arch}"]
    if deb.source:
        lines.append(f"Source: {deb.source}")
    lines += [f"Version: {deb.version}", f"Description: the {deb.name} package", " A long description line."]
    return "\n".join(lines) + "\n"


def debian_rootfs(debs: Sequence[Deb], *, version: str = "12", with_lists: bool = True) -> dict[str, Entry]:
    """A Debian-like root: os-release (symlinked from /etc, as Debian does), debian_version, dpkg status."""
    files: dict[str, Entry] = {
        "usr/lib/os-release": os_release("debian", version, f"Debian GNU/Linux {version} (bookworm)"),
        "etc/os-release": Symlink("../usr/lib/os-release"),
        "etc/debian_version": f"{version}.5\n".encode(),
        "var/lib/dpkg/status": "\n".join(dpkg_stanza(deb) for deb in debs).encode(),
    }
    if with_lists:
        for deb in debs:
            directories = sorted({str(Path(f).parent) for f in deb.files})
            files[f"var/lib/dpkg/info/{deb.name}.list"] = (
                "/.\n" + "".join(f"{d}\n" for d in directories) + "".join(f"{f}\n" for f in deb.files)
            ).encode()
    return files


def distroless_rootfs(debs: Sequence[Deb]) -> dict[str, Entry]:
    """A distroless-like root: no dpkg `status`, one `status.d/NAME` stanza (and `.md5sums`) per package."""
    files: dict[str, Entry] = {"etc/os-release": os_release("debian", "12")}
    for deb in debs:
        files[f"var/lib/dpkg/status.d/{deb.name}"] = dpkg_stanza(deb).encode()
        if deb.files:
            md5 = "".join(f"{hashlib.md5(f.encode()).hexdigest()}  {f.lstrip('/')}\n" for f in deb.files)
            files[f"var/lib/dpkg/status.d/{deb.name}.md5sums"] = md5.encode()
    return files


@dataclass(frozen=True)
class Apk:
    name: str
    version: str
    arch: str = "x86_64"
    origin: str | None = None
    files: tuple[str, ...] = ()


def apk_installed(packages: Sequence[Apk]) -> bytes:
    paragraphs = []
    for package in packages:
        lines = [
            f"C:Q1{'A' * 27}=",
            f"P:{package.name}",
            f"V:{package.version}",
            f"A:{package.arch}",
            "S:1000",
            "I:2000",
        ]
        lines += ["T:a package", "L:MIT"]
        if package.origin:
            lines.append(f"o:{package.origin}")
        directory = None
        for path in package.files:
            parent, _, base = path.strip("/").rpartition("/")
            if parent != directory:
                lines.append(f"F:{parent}")
                directory = parent
            lines += [f"R:{base}", f"Z:Q1{'B' * 27}="]
        paragraphs.append("\n".join(lines) + "\n")
    return "\n".join(paragraphs).encode() + b"\n"


def alpine_rootfs(packages: Sequence[Apk], *, version: str = "3.20.3") -> dict[str, Entry]:
    return {
        "etc/os-release": os_release("alpine", version, f"Alpine Linux v{version}"),
        "etc/alpine-release": f"{version}\n".encode(),
        "lib/apk/db/installed": apk_installed(packages),
    }


# --- rpm ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rpm:
    name: str
    version: str
    release: str
    arch: str = "x86_64"
    epoch: int | None = None
    source_rpm: str | None = None
    files: tuple[str, ...] = ()


def rpm_header(package: Rpm) -> bytes:
    """An rpm header blob as `rpmdb.sqlite` stores it: il, dl, index entries, data store (big-endian)."""
    entries: list[tuple[int, int, bytes, int]] = [(63, 7, b"\0" * 16, 16)]  # a region tag, as real headers have

    def string(tag: int, value: str) -> None:
        entries.append((tag, 6, value.encode() + b"\0", 1))

    string(1000, package.name)
    string(1001, package.version)
    string(1002, package.release)
    if package.epoch is not None:
        entries.append((1003, 4, struct.pack(">i", package.epoch), 1))
    string(1022, package.arch)
    string(1044, package.source_rpm or f"{package.name}-{package.version}-{package.release}.src.rpm")
    if package.files:
        dirnames = sorted({path.rpartition("/")[0] + "/" for path in package.files})
        basenames = [path.rpartition("/")[2] for path in package.files]
        indexes = [dirnames.index(path.rpartition("/")[0] + "/") for path in package.files]
        entries.append((1116, 4, struct.pack(f">{len(indexes)}i", *indexes), len(indexes)))
        entries.append((1117, 8, b"".join(b.encode() + b"\0" for b in basenames), len(basenames)))
        entries.append((1118, 8, b"".join(d.encode() + b"\0" for d in dirnames), len(dirnames)))
    index, store = b"", b""
    for tag, kind, data, count in entries:
        if kind == 4:
            store += b"\0" * (-len(store) % 4)
        index += struct.pack(">iiii", tag, kind, len(store), count)
        store += data
    return struct.pack(">ii", len(entries), len(store)) + index + store


def rpmdb_sqlite(packages: Sequence[Rpm], *, extra_blobs: Sequence[bytes] = ()) -> bytes:
    """An `rpmdb.sqlite` with rpm's `Packages` table holding one header per package."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "rpmdb.sqlite"
        connection = sqlite3.connect(path)
        connection.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
        blobs = [rpm_header(package) for package in packages] + list(extra_blobs)
        connection.executemany("INSERT INTO Packages (blob) VALUES (?)", [(blob,) for blob in blobs])
        connection.commit()
        connection.close()
        return path.read_bytes()


def rpm_rootfs(packages: Sequence[Rpm], *, distro: tuple[str, str] = ("rocky", "9.4")) -> dict[str, Entry]:
    return {"etc/os-release": os_release(*distro), "var/lib/rpm/rpmdb.sqlite": rpmdb_sqlite(packages)}


# --- language packages --------------------------------------------------------------------------------


def python_dist_info(site: str, name: str, version: str) -> dict[str, Entry]:
    directory = f"{site}/{name.replace('-', '_')}-{version}.dist-info"
    metadata = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: s\n\nA long description.\nName: not-this\n"
    )
    return {f"{directory}/METADATA": metadata.encode(), f"{directory}/RECORD": b"", f"{site}/{name}/__init__.py": b""}


def python_egg_info(site: str, name: str, version: str, *, single_file: bool = False) -> dict[str, Entry]:
    pkg_info = f"Metadata-Version: 1.1\nName: {name}\nVersion: {version}\n".encode()
    if single_file:
        return {f"{site}/{name}-{version}.egg-info": pkg_info}
    return {f"{site}/{name}-{version}.egg-info/PKG-INFO": pkg_info}


def npm_package(root: str, name: str, version: str, **extra: object) -> dict[str, Entry]:
    document = {"name": name, "version": version, "description": "x" * 100, **extra}
    return {f"{root}/node_modules/{name}/package.json": json.dumps(document).encode()}


def jar(
    artifacts: Sequence[tuple[str, str, str]] = (),
    *,
    manifest: Mapping[str, str] | None = None,
    nested: Mapping[str, bytes] | None = None,
) -> bytes:
    """A jar (zip) with a `pom.properties` per (groupId, artifactId, version), a manifest, nested jars."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        lines = {"Manifest-Version": "1.0", **(manifest or {})}
        archive.writestr("META-INF/MANIFEST.MF", "".join(f"{k}: {v}\r\n" for k, v in lines.items()) + "\r\n")
        for group, artifact, version in artifacts:
            properties = f"#Generated by Maven\ngroupId={group}\nartifactId={artifact}\nversion={version}\n"
            archive.writestr(f"META-INF/maven/{group}/{artifact}/pom.properties", properties)
        archive.writestr("com/example/App.class", b"\xca\xfe\xba\xbe")
        for name, content in (nested or {}).items():
            archive.writestr(name, content)
    return buffer.getvalue()


# --- a sample image -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleImage:
    """A small image with a package of every kind, and the packages its inventory must list."""

    blobs: tuple[LayerBlob, ...]
    packages: frozenset[tuple[str, str, str]]
    """(ecosystem, name, version) of every package the inventory must list."""


def sample_image(*, marker: str | None = None, make: Callable[[Files], LayerBlob] = gzip_layer) -> SampleImage:
    """Debian 12 with dpkg packages, then Python, npm, Java and Go packages, then an upper layer that
    upgrades one Python package (a whiteout) and adds another, as a zstd layer.

    The versions are old ones that published OSV advisories name (openssl's `3.0.11-1~deb12u1`,
    jinja2 2.10, lodash 4.17.20, log4j-core 2.14.1, golang.org/x/net 0.1.0, Go 1.20.0), so tests of the
    matcher can use real records. `python3-six`'s dist-info is owned by its deb, so six is not a PyPI
    package. With `marker`, every layer also holds `.moorage-marker` (fresh digests per test run, as
    `oci_layout.with_marker` explains).
    """
    site = "usr/local/lib/python3.11/site-packages"
    debian_site = "usr/lib/python3/dist-packages"
    six = Deb(
        "python3-six", "1.16.0-4", arch="all", source="six", files=(f"/{debian_site}/six-1.16.0.dist-info/METADATA",)
    )
    base = debian_rootfs(
        [
            Deb("libssl3", "3.0.11-1~deb12u1", source="openssl"),
            Deb("zlib1g", "1:1.2.13.dfsg-1", source="zlib"),
            six,
        ]
    )
    base.update(python_dist_info(debian_site, "six", "1.16.0"))
    go_tool = synthetic_go_binary("go1.20", go_modinfo("example.com/tool", "v1.0.0", [("golang.org/x/net", "v0.1.0")]))
    applications: dict[str, Entry] = {
        **python_dist_info(site, "Jinja2", "2.10"),
        **python_dist_info(site, "urllib3", "1.26.4"),
        **npm_package("app", "lodash", "4.17.20"),
        "app/app.jar": jar([("org.apache.logging.log4j", "log4j-core", "2.14.1")]),
        "usr/local/bin/tool": Executable(go_tool),
    }
    upgrade: dict[str, Entry] = {
        f"{site}/.wh.urllib3-1.26.4.dist-info": b"",
        **python_dist_info(site, "urllib3", "2.2.2"),
        **python_dist_info(site, "requests", "2.31.0"),
    }
    layers: list[dict[str, Entry]] = [base, applications, upgrade]
    if marker is not None:
        layers = [{**files, ".moorage-marker": f"{marker}/{n}".encode()} for n, files in enumerate(layers)]
    blobs = (make(layers[0]), make(layers[1]), zstd_layer(layers[2]))
    packages = frozenset(
        {
            ("Debian:12", "libssl3", "3.0.11-1~deb12u1"),
            ("Debian:12", "zlib1g", "1:1.2.13.dfsg-1"),
            ("Debian:12", "python3-six", "1.16.0-4"),
            ("PyPI", "jinja2", "2.10"),
            ("PyPI", "urllib3", "2.2.2"),
            ("PyPI", "requests", "2.31.0"),
            ("npm", "lodash", "4.17.20"),
            ("Maven", "org.apache.logging.log4j:log4j-core", "2.14.1"),
            ("Go", "stdlib", "1.20.0"),
            ("Go", "example.com/tool", "1.0.0"),
            ("Go", "golang.org/x/net", "0.1.0"),
        }
    )
    return SampleImage(blobs, packages)
