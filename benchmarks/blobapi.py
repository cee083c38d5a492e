"""The few OCI distribution API calls the benchmarks make directly (the rest is skopeo's work)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import httpx

from benchmarks import loadtools

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MANIFEST_ACCEPT = ", ".join(
    [
        OCI_MANIFEST,
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _absolute(base: str, location: str) -> str:
    return location if location.startswith("http") else base + location


def start_upload(base: str, repo: str) -> str:
    """POST an upload session; returns the absolute URL to PUT the body to."""
    response = httpx.post(f"{base}/v2/{repo}/blobs/uploads/", timeout=30)
    if response.status_code != 202:
        raise RuntimeError(f"POST upload on {base} answered {response.status_code}: {response.text[:300]}")
    return _absolute(base, response.headers["Location"])


def with_query(url: str, name: str, value: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{name}={value}"


def upload_file(base: str, repo: str, source: Path, digest: str) -> float:
    """Monolithic upload (POST, then one PUT ?digest= with the file as body); returns seconds.

    curl sends the body so that the client is native code, as a real client's would be.
    """
    started = time.perf_counter()
    location = start_upload(base, repo)
    status, _ = loadtools.curl_upload(
        with_query(location, "digest", digest), source, headers={"Content-Type": "application/octet-stream"}
    )
    seconds = time.perf_counter() - started
    if status != 201:
        raise RuntimeError(f"PUT blob on {base} answered {status}")
    return seconds


EMPTY_DIGEST = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def warm_up_upload(base: str, repo: str, source: Path) -> None:
    """Send the file once under a digest it does not have, untimed: the registry receives, hashes and
    stages every byte, then refuses it and drops them, so nothing is stored.

    On this VM the first gigabyte a process writes after a few idle seconds runs at about 350 MB/s
    whatever the server (fresh guest memory is slow to touch; see docs/benchmarks.md), so a timed
    transfer that follows a warm-up measures the server rather than the host's memory.
    """
    location = start_upload(base, repo)
    status, _ = loadtools.curl_upload(
        with_query(location, "digest", EMPTY_DIGEST), source, headers={"Content-Type": "application/octet-stream"}
    )
    if status != 400:
        raise RuntimeError(f"warm-up PUT with a wrong digest on {base} answered {status}, expected 400")


def download_blob(base: str, repo: str, digest: str, expected_size: int) -> float:
    """GET a blob into /dev/null; returns seconds."""
    status, size, seconds = loadtools.curl_download(f"{base}/v2/{repo}/blobs/{digest}")
    if status != 200 or size != expected_size:
        raise RuntimeError(f"GET blob on {base} answered {status} with {size} of {expected_size} bytes")
    return seconds


def upload_bytes(base: str, repo: str, data: bytes) -> str:
    """Upload a small blob in memory; returns its digest."""
    digest = sha256_digest(data)
    location = start_upload(base, repo)
    response = httpx.put(
        with_query(location, "digest", digest),
        content=data,
        headers={"Content-Type": "application/octet-stream"},
        timeout=30,
    )
    if response.status_code != 201:
        raise RuntimeError(f"PUT blob on {base} answered {response.status_code}: {response.text[:300]}")
    return digest


def push_small_image(base: str, repo: str, tag: str) -> tuple[str, str]:
    """Push a one-layer image made of small blobs; returns (manifest digest, layer digest)."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = hashlib.sha512(tag.encode()).digest() * 64  # 4 KiB, distinct per tag
    config_digest = upload_bytes(base, repo, config)
    layer_digest = upload_bytes(base, repo, layer)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": layer_digest, "size": len(layer)}],
        }
    ).encode()
    response = httpx.put(
        f"{base}/v2/{repo}/manifests/{tag}", content=manifest, headers={"Content-Type": OCI_MANIFEST}, timeout=30
    )
    if response.status_code != 201:
        raise RuntimeError(f"PUT manifest on {base} answered {response.status_code}: {response.text[:300]}")
    return sha256_digest(manifest), layer_digest
