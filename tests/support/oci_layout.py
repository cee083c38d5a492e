"""Write OCI image layouts (image-spec `image-layout.md`) from pure Python, byte for byte reproducible.

Real clients (skopeo, podman, umoci) read these directories through the `oci:DIR:TAG` transport, so
tests and benchmarks can push images whose every digest is known in advance. Layers are real
tar+gzip streams (mtime 0, uid/gid 0, sorted names) and configs carry `rootfs.diff_ids`, so clients
that verify diff IDs (containerd unpack, podman) accept them.

    image = write_image(layout, "v1", [{"etc/motd": b"hello\\n"}, {"bin/tool": b"#!/bin/sh\\n"}])
    index = write_index(layout, "multi", [amd64_image, arm64_image])
    big = write_image_from_blobs(layout, "big", [random_layer(64 << 20)])  # fresh digest every call
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

OCI_LAYOUT_VERSION = "1.0.0"
MEDIA_TYPE_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPE_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_TYPE_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_TYPE_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_TYPE_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
EPOCH = "1970-01-01T00:00:00Z"

Platform = tuple[str, str] | tuple[str, str, str]
"""(os, architecture) or (os, architecture, variant), e.g. ("linux", "arm64", "v8")."""


def sha256_digest(data: bytes) -> str:
    """The OCI digest string (`sha256:<hex>`) of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    """Compact JSON with a fixed key order, so the same document always has the same digest."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor: what a manifest or index says about a blob."""

    media_type: str
    digest: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class LayerBlob:
    """A layer's bytes as stored in a registry, with the digest of the uncompressed tar (its diff ID)."""

    data: bytes
    diff_id: str
    media_type: str = MEDIA_TYPE_LAYER_GZIP

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Layer:
    """A layer written into a layout (bytes stay on disk, under `blobs/sha256/`)."""

    digest: str
    size: int
    diff_id: str
    media_type: str

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, self.size)


@dataclass(frozen=True)
class Image:
    """A single-platform image written into a layout: its manifest, config and layers."""

    tag: str | None
    platform: Platform
    manifest_digest: str
    manifest_size: int
    manifest_bytes: bytes
    config_digest: str
    config_size: int
    layers: tuple[Layer, ...]

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(MEDIA_TYPE_MANIFEST, self.manifest_digest, self.manifest_size)

    @property
    def blob_digests(self) -> tuple[str, ...]:
        """Config and layer digests, in manifest order (config first)."""
        return (self.config_digest, *(layer.digest for layer in self.layers))


@dataclass(frozen=True)
class Index:
    """A multi-platform image index written into a layout, with the images it lists."""

    tag: str | None
    digest: str
    size: int
    index_bytes: bytes
    images: tuple[Image, ...]

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(MEDIA_TYPE_INDEX, self.digest, self.size)


# --- layers -------------------------------------------------------------------------------------------


def _tar_info(name: str, *, size: int = 0, directory: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if directory:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.size = size
        info.mode = 0o755 if name.startswith(("bin/", "usr/bin/")) else 0o644
    return info


def tar_bytes(files: Mapping[str, bytes]) -> bytes:
    """An uncompressed, deterministic tar of `files` (path -> content), with parent directories."""
    paths = sorted(PurePosixPath(path.lstrip("/")).as_posix() for path in files)
    contents = {PurePosixPath(path.lstrip("/")).as_posix(): data for path, data in files.items()}
    directories = sorted({parent.as_posix() for path in paths for parent in PurePosixPath(path).parents} - {"."})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for directory in directories:
            archive.addfile(_tar_info(directory + "/", directory=True))
        for path in paths:
            data = contents[path]
            archive.addfile(_tar_info(path, size=len(data)), io.BytesIO(data))
    return buffer.getvalue()


def make_layer(files: Mapping[str, bytes], *, compresslevel: int = 6) -> LayerBlob:
    """A tar+gzip layer holding `files`; the same files always give the same digest."""
    tar = tar_bytes(files)
    return LayerBlob(gzip.compress(tar, compresslevel=compresslevel, mtime=0), sha256_digest(tar))


def random_layer(size: int, *, seed: int | None = None, path: str = "data/random.bin") -> LayerBlob:
    """A layer with one file of `size` random bytes, cheap to build at hundreds of megabytes.

    The gzip stream uses stored (level 0) blocks: it is a valid gzip layer, so skopeo and podman
    push it unchanged instead of recompressing it, and building it costs only the random bytes and
    two hashes. With `seed=None` the content is new on every call (fresh digests for benchmarks that
    must defeat client-side blob caches); with a seed it is reproducible.
    """
    content = os.urandom(size) if seed is None else random.Random(seed).randbytes(size)
    return make_layer({path: content}, compresslevel=0)


def uncompressed_layer(files: Mapping[str, bytes]) -> LayerBlob:
    """A plain tar layer (media type `...tar`); note skopeo gzips these on push, changing the digest."""
    tar = tar_bytes(files)
    return LayerBlob(tar, sha256_digest(tar), MEDIA_TYPE_LAYER_TAR)


def read_layer_files(data: bytes) -> dict[str, bytes]:
    """The regular files in a layer blob (gzip or plain tar), path -> content."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        for member in archive.getmembers():
            if member.isfile():
                extracted = archive.extractfile(member)
                assert extracted is not None
                files[member.name.removeprefix("./").lstrip("/")] = extracted.read()
    return files


# --- the layout directory -----------------------------------------------------------------------------


def init_layout(layout_dir: Path) -> None:
    """Create an empty OCI layout (`oci-layout`, `index.json`, `blobs/sha256/`) unless one exists."""
    (layout_dir / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    marker = layout_dir / "oci-layout"
    if not marker.exists():
        marker.write_bytes(canonical_json({"imageLayoutVersion": OCI_LAYOUT_VERSION}))
    index = layout_dir / "index.json"
    if not index.exists():
        index.write_bytes(canonical_json({"schemaVersion": 2, "mediaType": MEDIA_TYPE_INDEX, "manifests": []}))


def blob_path(layout_dir: Path, digest: str) -> Path:
    """Where a layout keeps the blob `digest`."""
    algorithm, hex_digest = digest.split(":", 1)
    return layout_dir / "blobs" / algorithm / hex_digest


def write_blob(layout_dir: Path, data: bytes) -> str:
    """Store `data` under `blobs/sha256/` and return its digest."""
    init_layout(layout_dir)
    digest = sha256_digest(data)
    path = blob_path(layout_dir, digest)
    if not path.exists():
        path.write_bytes(data)
    return digest


def read_blob(layout_dir: Path, digest: str) -> bytes:
    """The bytes of blob `digest`, verified against the digest."""
    data = blob_path(layout_dir, digest).read_bytes()
    assert sha256_digest(data) == digest, f"blob {digest} in {layout_dir} is corrupt"
    return data


def read_index_json(layout_dir: Path) -> dict[str, Any]:
    """The layout's top-level `index.json`."""
    result: dict[str, Any] = json.loads((layout_dir / "index.json").read_bytes())
    return result


def tag_descriptor(layout_dir: Path, tag: str) -> dict[str, Any]:
    """The `index.json` entry named `tag` (by `org.opencontainers.image.ref.name`)."""
    for entry in read_index_json(layout_dir)["manifests"]:
        if entry.get("annotations", {}).get(ANNOTATION_REF_NAME) == tag:
            return dict(entry)
    raise KeyError(f"no tag {tag!r} in {layout_dir}/index.json")


def add_tag(layout_dir: Path, tag: str, descriptor: Descriptor, *, platform: Platform | None = None) -> None:
    """Point `tag` in `index.json` at `descriptor`, replacing an older entry of the same name."""
    init_layout(layout_dir)
    index = read_index_json(layout_dir)
    entries = [e for e in index["manifests"] if e.get("annotations", {}).get(ANNOTATION_REF_NAME) != tag]
    entry = descriptor.to_json()
    if platform is not None:
        entry["platform"] = _platform_json(platform)
    entry["annotations"] = {ANNOTATION_REF_NAME: tag}
    index["manifests"] = [*entries, entry]
    (layout_dir / "index.json").write_bytes(canonical_json(index))


def _platform_json(platform: Platform) -> dict[str, str]:
    result = {"os": platform[0], "architecture": platform[1]}
    if len(platform) == 3:
        result["variant"] = platform[2]
    return result


# --- images and indexes -------------------------------------------------------------------------------


def write_image_from_blobs(
    layout_dir: Path,
    tag: str | None,
    layers: Sequence[LayerBlob],
    platform: Platform = ("linux", "amd64"),
    **options: Any,
) -> Image:
    """Write an image whose layers are the given in-memory blobs, and tag it (unless `tag` is None).

    An untagged image is only reachable through an index that lists it (see `write_index`). Options
    are passed on to `write_image_from_layers` (`config_extra`, `annotations`).
    """
    init_layout(layout_dir)
    written = [
        Layer(write_blob(layout_dir, layer.data), layer.size, layer.diff_id, layer.media_type) for layer in layers
    ]
    return write_image_from_layers(layout_dir, tag, written, platform, **options)


def write_image_from_layers(
    layout_dir: Path,
    tag: str | None,
    layers: Sequence[Layer],
    platform: Platform = ("linux", "amd64"),
    *,
    config_extra: Mapping[str, Any] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Image:
    """Write config and manifest for layers whose blobs are already in the layout (e.g. streamed there
    by a benchmark), and tag the image unless `tag` is None."""
    for layer in layers:
        if not blob_path(layout_dir, layer.digest).exists():
            raise FileNotFoundError(f"layer {layer.digest} is not in {layout_dir}")
    config: dict[str, Any] = {
        "created": EPOCH,
        **_platform_json(platform),
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": EPOCH, "created_by": f"moorage test layer {n}"} for n in range(len(layers))],
        **(config_extra or {}),
    }
    config_bytes = canonical_json(config)
    config_digest = write_blob(layout_dir, config_bytes)
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_MANIFEST,
        "config": Descriptor(MEDIA_TYPE_CONFIG, config_digest, len(config_bytes)).to_json(),
        "layers": [layer.descriptor.to_json() for layer in layers],
    }
    if annotations:
        manifest["annotations"] = dict(annotations)
    manifest_bytes = canonical_json(manifest)
    manifest_digest = write_blob(layout_dir, manifest_bytes)
    image = Image(
        tag=tag,
        platform=platform,
        manifest_digest=manifest_digest,
        manifest_size=len(manifest_bytes),
        manifest_bytes=manifest_bytes,
        config_digest=config_digest,
        config_size=len(config_bytes),
        layers=tuple(layers),
    )
    if tag is not None:
        add_tag(layout_dir, tag, image.descriptor)
    return image


def write_image(
    layout_dir: Path,
    tag: str | None,
    files_per_layer: Iterable[Mapping[str, bytes]],
    platform: Platform = ("linux", "amd64"),
    **options: Any,
) -> Image:
    """Write an image with one tar+gzip layer per mapping of path -> content, and tag it.

    Options are passed on to `write_image_from_layers` (`config_extra`, `annotations`).
    """
    layers = [make_layer(files) for files in files_per_layer]
    return write_image_from_blobs(layout_dir, tag, layers, platform, **options)


def write_index(
    layout_dir: Path,
    tag: str | None,
    images: Sequence[Image],
    *,
    annotations: Mapping[str, str] | None = None,
) -> Index:
    """Write an image index listing `images` with their platforms, and tag it."""
    index: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_INDEX,
        "manifests": [{**image.descriptor.to_json(), "platform": _platform_json(image.platform)} for image in images],
    }
    if annotations:
        index["annotations"] = dict(annotations)
    index_bytes = canonical_json(index)
    digest = write_blob(layout_dir, index_bytes)
    result = Index(tag, digest, len(index_bytes), index_bytes, tuple(images))
    if tag is not None:
        add_tag(layout_dir, tag, result.descriptor)
    return result


def write_multi_platform_image(
    layout_dir: Path,
    tag: str,
    files_per_layer: Sequence[Mapping[str, bytes]],
    platforms: Sequence[Platform] = (("linux", "amd64"), ("linux", "arm64")),
) -> Index:
    """An index with one image per platform; each image's last layer also holds `etc/platform`, so differs."""
    if not files_per_layer:
        raise ValueError("a multi-platform image needs at least one layer")
    images = [
        write_image(
            layout_dir,
            None,
            [*files_per_layer[:-1], {**files_per_layer[-1], "etc/platform": "/".join(platform).encode() + b"\n"}],
            platform,
        )
        for platform in platforms
    ]
    return write_index(layout_dir, tag, images)


def with_marker(marker: str, files_per_layer: Iterable[Mapping[str, bytes]]) -> list[dict[str, bytes]]:
    """The layers with a file `.moorage-marker` naming `marker` and the layer's position added to each.

    With a fresh marker per run every layer gets a new digest, so a push really uploads it: clients keep
    blob caches (skopeo and podman, as root, in /var/lib/containers/cache) that otherwise mount or even
    substitute a blob with the same content pushed earlier.
    """
    return [{**files, ".moorage-marker": f"{marker}/{n}".encode()} for n, files in enumerate(files_per_layer)]
