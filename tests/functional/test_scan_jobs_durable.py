"""A scan job survives the server: killed mid-run with `kill -9`, it is run again after the restart.

The image has a layer that takes seconds to read (gigabytes of zeros, a few megabytes compressed:
gzip members of 1 MiB of zeros, concatenated), so the test can catch the job IN_PROGRESS and kill
the whole server then. The restarted server sees that the job's holder (a process of this machine)
is dead and runs it again at once, without waiting for its lease to expire.
"""

from __future__ import annotations

import gzip
import tarfile
import time
from pathlib import Path

import httpx

from tests.conftest import StartRegistry
from tests.functional.governance_helpers import eventually
from tests.functional.helpers import canonical_json, image_manifest, push_blob, push_manifest, unique_repo
from tests.support.scan_images import Deb, debian_rootfs, gzip_layer

ZEROS_MIB = 1024
MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


def slow_layer(mebibytes: int) -> bytes:
    """A gzip tar of one file of `mebibytes` MiB of zeros, built from repeated gzip members (cheap to make)."""
    header = tarfile.TarInfo("var/cache/zeros")
    header.size = mebibytes << 20
    one_mebibyte = gzip.compress(bytes(1 << 20), compresslevel=9, mtime=0)
    end = gzip.compress(bytes(1024), mtime=0)  # the tar's two empty end blocks
    return gzip.compress(header.tobuf(tarfile.USTAR_FORMAT), mtime=0) + one_mebibyte * mebibytes + end


def push_slow_image(client: httpx.Client, repo: str) -> str:
    """An image whose scan takes seconds; its digest."""
    base = gzip_layer(debian_rootfs([Deb("moorage-durable", "1.0-1")]))
    layers = [
        push_blob(client, repo, base.data, media_type=base.media_type),
        push_blob(client, repo, slow_layer(ZEROS_MIB), media_type=MEDIA_TYPE),
    ]
    config = push_blob(client, repo, canonical_json({"architecture": "amd64", "os": "linux", "repo": repo}))
    return push_manifest(client, repo, image_manifest(config, layers), "v1").digest


def wait_until_in_progress(client: httpx.Client, repo: str) -> None:
    deadline = time.monotonic() + 60
    while (status := scan_status(client, repo)) != "IN_PROGRESS":
        assert status in (None, "PENDING"), "the scan finished before the test could interrupt it"
        assert time.monotonic() < deadline, "the scan never started"
        time.sleep(0.02)


def scan_status(client: httpx.Client, repo: str) -> str | None:
    response = client.get(f"/api/v1/repositories/{repo}/-/scans/v1")
    assert response.status_code == 200, response.text
    scan = response.json()["scan"]
    return scan["status"] if scan else None


def test_a_scan_killed_with_the_server_mid_run_is_run_again_after_the_restart(
    start_registry: StartRegistry, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    repo = unique_repo("durable")
    server = start_registry(data_dir, job_poll_seconds="0.05", scan_on_push="true")
    with httpx.Client(base_url=server.url, timeout=60) as client:
        push_slow_image(client, repo)
        wait_until_in_progress(client, repo)
    server.kill()

    restarted = start_registry(data_dir, job_poll_seconds="0.05", scan_on_push="true")
    with httpx.Client(base_url=restarted.url, timeout=60) as client:
        assert eventually(lambda: scan_status(client, repo) == "COMPLETE" or None, timeout=180)
        [image] = client.get(f"/api/v1/repositories/{repo}/-/images", params={"tag_status": "tagged"}).json()["images"]
        [sbom] = eventually(lambda: client.get(f"/v2/{repo}/referrers/{image['digest']}").json()["manifests"])
        assert sbom["artifactType"] == "application/vnd.cyclonedx+json"  # the job ran again to its end
    assert "re-running 1 job(s) whose worker died" in restarted.log()


def test_an_image_deleted_while_it_is_scanned_ends_the_job_quietly_without_an_sbom(
    start_registry: StartRegistry, tmp_path: Path
) -> None:
    repo = unique_repo("deleted")
    server = start_registry(tmp_path / "data", job_poll_seconds="0.05", scan_on_push="true")
    with httpx.Client(base_url=server.url, timeout=60) as client:
        digest = push_slow_image(client, repo)
        wait_until_in_progress(client, repo)
        assert client.delete(f"/v2/{repo}/manifests/{digest}").status_code == 202
        assert eventually(lambda: "the image was deleted meanwhile" in server.log(), timeout=120)
        assert client.get(f"/v2/{repo}/referrers/{digest}").json()["manifests"] == []
    assert "failed" not in server.log()
