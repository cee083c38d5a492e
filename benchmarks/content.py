"""Test content with fresh digests on every run, cheap enough to rebuild each round.

Fresh digests matter because skopeo's blob-info cache (as root, the machine-wide one under
/var/lib/containers/cache; skopeo 1.9 has no flag to move it) lets it mount or skip blobs it has
pushed before. Every file here is a large random *base* file written once, plus a new random nonce
per round, so a round costs a few hashes rather than gigabytes of `os.urandom`.

`tests.support.oci_layout.random_layer` builds layers in memory, which takes ~12 s and 2 GB of RAM
for 500 MiB; big layers are therefore streamed to disk here, and the small ones use that module.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support import oci_layout

BLOCK = 4 << 20
NONCE_SIZE = 32


def ensure_random_file(path: Path, size: int) -> Path:
    """A file of `size` random bytes, written once and reused while its size matches."""
    if path.exists() and path.stat().st_size == size:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".partial")
    with open(temporary, "wb") as out:
        remaining = size
        while remaining:
            block = os.urandom(min(BLOCK, remaining))
            out.write(block)
            remaining -= len(block)
    temporary.rename(path)
    return path


def read_blocks(path: Path, limit: int | None = None) -> Iterator[bytes]:
    """Yield the file in BLOCK-sized pieces, up to `limit` bytes."""
    remaining = path.stat().st_size if limit is None else limit
    with open(path, "rb") as source:
        while remaining > 0:
            block = source.read(min(BLOCK, remaining))
            if not block:
                raise ValueError(f"{path} is shorter than {limit} bytes")
            remaining -= len(block)
            yield block


@dataclass(frozen=True)
class RawBlob:
    """A blob file on disk with its digest and size."""

    path: Path
    digest: str
    size: int


def fresh_raw_blob(base: Path, path: Path, size: int) -> RawBlob:
    """A blob with a new digest: overwrite the nonce at the start of `path` (a copy of `base`'s
    first `size` bytes) and rehash.

    The copy is made once; later rounds only overwrite its first bytes, so the digest changes while
    the page cache keeps the rest warm.
    """
    if not path.exists() or path.stat().st_size != size:
        with open(path, "wb") as out:
            for block in read_blocks(base, size):
                out.write(block)
    with open(path, "r+b") as out:
        out.write(os.urandom(NONCE_SIZE))
    hasher = hashlib.sha256()
    for block in read_blocks(path):
        hasher.update(block)
    return RawBlob(path, "sha256:" + hasher.hexdigest(), size)


def _tar_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 0
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def write_random_gzip_layer(layout_dir: Path, base: Path, size: int) -> oci_layout.Layer:
    """Stream a tar+gzip layer (one file: nonce + `size` bytes of `base`) into the layout's blobs.

    Gzip uses stored (level 0) deflate blocks: a valid gzip layer that skopeo passes through
    unchanged, since random data would not compress anyway.
    """
    oci_layout.init_layout(layout_dir)
    staging = layout_dir / "blobs" / "layer.partial"
    compressor = zlib.compressobj(0, zlib.DEFLATED, 31)
    tar_hash, blob_hash = hashlib.sha256(), hashlib.sha256()
    blob_size = 0
    with open(staging, "wb") as out:

        def emit(data: bytes) -> None:
            nonlocal blob_size
            tar_hash.update(data)
            compressed = compressor.compress(data)
            blob_hash.update(compressed)
            blob_size += len(compressed)
            out.write(compressed)

        content_size = NONCE_SIZE + size
        emit(_tar_header("data/random.bin", content_size))
        emit(os.urandom(NONCE_SIZE))
        for block in read_blocks(base, size):
            emit(block)
        emit(b"\0" * (-content_size % 512) + b"\0" * 1024)  # pad the member, then end of archive
        tail = compressor.flush()
        blob_hash.update(tail)
        blob_size += len(tail)
        out.write(tail)
    digest = "sha256:" + blob_hash.hexdigest()
    staging.rename(oci_layout.blob_path(layout_dir, digest))
    return oci_layout.Layer(digest, blob_size, "sha256:" + tar_hash.hexdigest(), oci_layout.MEDIA_TYPE_LAYER_GZIP)


def write_image_with_layers(layout_dir: Path, tag: str, layers: list[oci_layout.Layer]) -> str:
    """Write config and manifest for layers already in the layout; tag it; return the manifest digest."""
    config = oci_layout.canonical_json(
        {
            "created": oci_layout.EPOCH,
            "os": "linux",
            "architecture": "amd64",
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        }
    )
    config_digest = oci_layout.write_blob(layout_dir, config)
    manifest = oci_layout.canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": oci_layout.MEDIA_TYPE_MANIFEST,
            "config": oci_layout.Descriptor(oci_layout.MEDIA_TYPE_CONFIG, config_digest, len(config)).to_json(),
            "layers": [layer.descriptor.to_json() for layer in layers],
        }
    )
    digest = oci_layout.write_blob(layout_dir, manifest)
    oci_layout.add_tag(layout_dir, tag, oci_layout.Descriptor(oci_layout.MEDIA_TYPE_MANIFEST, digest, len(manifest)))
    return digest


def big_layer_image(layout_dir: Path, tag: str, base: Path, size: int) -> int:
    """A fresh single-layer image of ~`size` bytes; returns the bytes a push or pull moves."""
    layer = write_random_gzip_layer(layout_dir, base, size)
    write_image_with_layers(layout_dir, tag, [layer])
    return layer.size


def many_layer_image(layout_dir: Path, tag: str, count: int, layer_size: int) -> int:
    """A fresh image of `count` small random layers (built with the shared layout writer)."""
    blobs = [oci_layout.random_layer(layer_size) for _ in range(count)]
    oci_layout.write_image_from_blobs(layout_dir, tag, blobs)
    return sum(blob.size for blob in blobs)
