"""The OCI layouts the other end-to-end tests start from are valid and reproducible.

If these fail, a failure elsewhere in tests/e2e says nothing about the registry.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from tests.support.clients import require_tools, run
from tests.support.oci_layout import (
    make_layer,
    random_layer,
    read_blob,
    read_layer_files,
    sha256_digest,
    write_image,
    write_multi_platform_image,
)

pytestmark = pytest.mark.e2e

FILES = [
    {"etc/motd": b"hello\n", "etc/.hidden": b"h"},
    {"usr/bin/tool": b"#!/bin/sh\n"},
    {"srv/a/b/c.txt": b"c" * 5000},
]


def test_same_files_give_the_same_digests(tmp_path: Path) -> None:
    """Layers, configs and manifests are byte-for-byte reproducible (mtime 0, sorted entries)."""
    first = write_image(tmp_path / "one", "v1", FILES)
    second = write_image(tmp_path / "two", "v1", FILES)

    assert first == second
    assert (tmp_path / "one" / "index.json").read_bytes() == (tmp_path / "two" / "index.json").read_bytes()
    assert make_layer({"x": b"1"}).digest != make_layer({"x": b"2"}).digest


def test_layers_hold_the_files_and_their_diff_ids(tmp_path: Path) -> None:
    """Each layer unpacks to its files, and the diff ID is the digest of the uncompressed tar."""
    image = write_image(tmp_path, "v1", FILES)

    for files, layer in zip(FILES, image.layers, strict=True):
        assert read_layer_files(read_blob(tmp_path, layer.digest)) == files
    big = random_layer(1 << 20, seed=7)
    assert big == random_layer(1 << 20, seed=7) and big.digest != random_layer(1 << 20).digest
    assert read_layer_files(big.data)["data/random.bin"] == random.Random(7).randbytes(1 << 20)
    assert big.diff_id == sha256_digest(gzip.decompress(big.data))


def test_umoci_unpacks_the_image_and_verifies_diff_ids(tmp_path: Path) -> None:
    """umoci, which checks every blob digest and diff ID, unpacks the image and lists both tags."""
    require_tools("umoci")
    layout = tmp_path / "layout"
    write_image(layout, "v1", FILES)
    write_multi_platform_image(layout, "multi", FILES)

    run(["umoci", "unpack", "--rootless", "--image", f"{layout}:v1", tmp_path / "bundle"])

    rootfs = tmp_path / "bundle" / "rootfs"
    assert (rootfs / "etc/motd").read_bytes() == b"hello\n"
    assert (rootfs / "srv/a/b/c.txt").read_bytes() == b"c" * 5000
    listed = run(["umoci", "ls", "--layout", layout]).stdout.decode().split()
    assert sorted(listed) == ["multi", "v1"]
