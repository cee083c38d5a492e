"""Tiny images for the scanner, built in memory: layers, root file systems and package databases.

Layers are tar blobs (plain, gzip or zstd) made from a mapping path -> content, where content is
bytes (a regular file) or a `Symlink` / `Hardlink` / `Directory` / `Raw` entry; whiteouts are just
files named `.wh.NAME` or `.wh..wh..opq`. Root file systems are mappings too, so a test composes
an image as `[debian_rootfs(...), {**python_site_packages(...)}]` and reads it with
`inventory_layers(...)`, or writes it as an OCI layout for skopeo with `write_scan_image(...)`.

Package databases are written in their real formats: dpkg `status` stanzas and `info/*.list`, apk
`installed` paragraphs, an rpm `rpmdb.sqlite` whose `Packages` blobs are rpm headers built here
(`rpm_header`), Python `METADATA`, npm `package.json`, a jar (a real zip) and a Go binary: built by
the Go toolchain when it is installed (`build_go_binary`), and otherwise `synthetic_go_binary`, a
file that is *not* a runnable program: an ELF magic, padding, and a `.go.buildinfo` blob written
from the documented format (`debug/buildinfo`: 32-byte header `\\xff Go buildinf:`, pointer size,
flags 0x2, then varint-prefixed version and module-information strings inside 16-byte sentinels).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import zstandard

from moorage.domain import media_types
from moorage.scanning.inventory import Layer
from tests.support.oci_layout import Image, LayerBlob, sha256_digest, write_image_from_blobs

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


def write_scan_image(layout_dir: Path, tag: str, blobs: Sequence[LayerBlob], **options: object) -> Image:
    """Write an image of these layer blobs into an OCI layout, for skopeo's `oci:DIR:TAG`."""
    return write_image_from_blobs(layout_dir, tag, blobs, **options)  # type: ignore[arg-type]


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


# --- Go -----------------------------------------------------------------------------------------------

GO_INFO_START = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6"
GO_INFO_END = b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2"


def _uvarint(value: int) -> bytes:
    out = b""
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def go_buildinfo_blob(go_version: str, modinfo: str) -> bytes:
    """A `.go.buildinfo` section (Go >= 1.18 layout: inline strings)."""
    header = b"\xff Go buildinf:" + bytes([8, 0x2])
    header += b"\0" * (32 - len(header))
    mod = GO_INFO_START + modinfo.encode() + GO_INFO_END
    return header + _uvarint(len(go_version)) + go_version.encode() + _uvarint(len(mod)) + mod


def go_modinfo(main: str, main_version: str = "(devel)", deps: Sequence[tuple[str, str]] = ()) -> str:
    lines = [f"path\t{main}", f"mod\t{main}\t{main_version}\t"]
    lines += [f"dep\t{path}\t{version}\th1:{'x' * 43}=" for path, version in deps]
    lines += ["build\t-compiler=gc", "build\tGOOS=linux"]
    return "\n".join(lines) + "\n"


def synthetic_go_binary(go_version: str, modinfo: str, *, padding: int = 8192, decoy: bool = True) -> bytes:
    """Not a runnable program: an ELF header's magic, padding and a 16-aligned build info blob.

    With `decoy`, the magic string first appears unaligned and without a valid header (as it does in
    the `go` command's read-only data), so the reader must skip a false match.
    """
    start = b"\x7fELF\x02\x01\x01" + b"\0" * 57
    fake = b"\x03" + b"\xff Go buildinf:" + b"garbage" if decoy else b""
    body = start + fake
    body += b"\0" * max(0, padding - len(body))
    body += b"\0" * (-len(body) % 16)
    return body + go_buildinfo_blob(go_version, modinfo) + b"\0" * 512


GO_TEST_PROGRAM = {
    "go.mod": "module example.com/scanme\n\ngo 1.19\n\nrequire example.com/greeting v1.2.3\n",
    "main.go": 'package main\n\nimport "example.com/greeting"\n\nfunc main() { println(greeting.Hello()) }\n',
    "vendor/example.com/greeting/greeting.go": 'package greeting\n\nfunc Hello() string { return "hello" }\n',
    "vendor/modules.txt": "# example.com/greeting v1.2.3\n## explicit\nexample.com/greeting\n",
}
"""A program with one dependency, vendored so the build needs no network (a real module version)."""


def go_toolchain() -> str | None:
    return shutil.which("go")


def build_go_binary(work_dir: Path) -> bytes:
    """Build `GO_TEST_PROGRAM` with the installed Go toolchain (static, stripped) and return the binary."""
    go = go_toolchain()
    assert go is not None, "the Go toolchain is not installed"
    source = work_dir / "src"
    for name, text in GO_TEST_PROGRAM.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    environment = {
        **os.environ,
        "CGO_ENABLED": "0",
        "GOFLAGS": "-mod=vendor",
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "GOPATH": str(work_dir / "gopath"),
    }
    environment.setdefault("GOCACHE", str(Path(environment.get("HOME", str(work_dir))) / ".cache" / "go-build"))
    output = work_dir / "scanme"
    subprocess.run(
        [go, "build", "-trimpath", "-ldflags=-s", "-o", str(output), "."],
        cwd=source,
        env=environment,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return output.read_bytes()
