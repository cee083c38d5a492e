"""Real clients against lifecycle runs and immutable tags: nothing a tag or an index still needs goes.

`skopeo copy --all` pushes each platform image by digest and then the index that lists them. A resumed
multi-arch push (or a rebuild with the same platform images) finds those images already stored, untagged,
pushed long ago: a lifecycle run with an untagged-count rule judges them leftovers. skopeo's PUT of an
unchanged platform image restarts the grace period, and once the index lists them they are kept; the
test makes the grace period short and lets it pass before each run, so both protections are exercised.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import StartRegistry
from tests.functional.test_lifecycle_race import UNTAGGED_COUNT_RULE, push_leftovers, start_run, wait_until_gone
from tests.support.clients import ClientError, container_tools, require_tools
from tests.support.oci_layout import Index, read_blob, tag_descriptor, with_marker, write_multi_platform_image

pytestmark = pytest.mark.e2e

ROUNDS = 3
LEFTOVERS_PER_ROUND = 1000
GRACE_SECONDS = 15  # longer than skopeo needs between its platform PUTs and the index PUT on a busy machine


def push_platform_images(http: httpx.Client, repo: str, layout: Path, index: Index) -> None:
    """The first half of `skopeo copy --all`: every platform image, by digest (the index is not pushed yet)."""
    for image in index.images:
        for digest in (image.config_digest, *(layer.digest for layer in image.layers)):
            location = http.post(f"/v2/{repo}/blobs/uploads/").headers["location"]
            separator = "&" if "?" in location else "?"
            response = http.put(f"{location}{separator}digest={digest}", content=read_blob(layout, digest))
            assert response.status_code == 201, response.text
        response = http.put(
            f"/v2/{repo}/manifests/{image.manifest_digest}",
            content=image.manifest_bytes,
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert response.status_code == 201, response.text


def test_skopeo_copy_all_racing_lifecycle_runs_leaves_every_tagged_image_pullable(
    start_registry: StartRegistry, tmp_path: Path
) -> None:
    require_tools("skopeo")
    server = start_registry(
        lifecycle_interval_seconds="0", gc_interval_seconds="0", lifecycle_grace_period_seconds=str(GRACE_SECONDS)
    )
    repo = "race/multi"
    with httpx.Client(base_url=server.url, timeout=120) as http, container_tools(server.host) as tools:
        assert http.put(f"/api/v1/repositories/{repo}/lifecycle-policy", json=UNTAGGED_COUNT_RULE).status_code == 200
        for round_number in range(ROUNDS):
            leftovers = push_leftovers(http, repo, LEFTOVERS_PER_ROUND)
            layout = tmp_path / f"source-{round_number}"
            marker = with_marker(f"{tmp_path.name}-{round_number}", [{"a": b"a"}])
            index = write_multi_platform_image(layout, "build", marker)
            push_platform_images(http, repo, layout, index)
            time.sleep(GRACE_SECONDS + 0.5)  # leftovers and platform images alike are now past the grace period
            thread, answer = start_run(server)
            wait_until_gone(http, repo, leftovers[0], thread)  # the run is expiring; the platforms come last
            tools.skopeo_copy(f"oci:{layout}:build", tools.docker(repo, f"build-{round_number}"), "--all")
            thread.join(timeout=300)
            assert answer["response"].status_code == 200, answer
        tagged = sorted(tag for tag in http.get(f"/v2/{repo}/tags/list").json()["tags"] if tag.startswith("build-"))
        assert tagged == [f"build-{number}" for number in range(ROUNDS)]
        for tag in tagged:
            copy = tmp_path / f"copy-{tag}"
            tools.skopeo_copy(tools.docker(repo, tag), f"oci:{copy}:{tag}", "--all", "--preserve-digests")
            assert tag_descriptor(copy, tag)["mediaType"] == "application/vnd.oci.image.index.v1+json"


def test_skopeo_delete_of_an_immutable_tag_is_refused_and_the_tag_keeps_its_image(
    start_registry: StartRegistry, tmp_path: Path
) -> None:
    """`skopeo delete` resolves the tag and deletes by digest; immutability must hold against that too."""
    require_tools("skopeo")
    server = start_registry()
    repo = "prod/api"
    with httpx.Client(base_url=server.url, timeout=60) as http, container_tools(server.host) as tools:
        response = http.post("/api/v1/repositories", json={"name": repo, "tag_mutability": "IMMUTABLE"})
        assert response.status_code == 201, response.text
        layout = tmp_path / "source"
        index = write_multi_platform_image(layout, "v1.0.0", with_marker(tmp_path.name, [{"a": b"a"}]))
        tools.skopeo_copy(f"oci:{layout}:v1.0.0", tools.docker(repo, "v1.0.0"), "--all", "--preserve-digests")
        with pytest.raises(ClientError):
            tools.skopeo_delete(tools.docker(repo, "v1.0.0"))
        with pytest.raises(ClientError):
            tools.skopeo_delete(tools.docker(repo, index.images[0].manifest_digest))  # a platform of the index
        copy = tmp_path / "copy"
        tools.skopeo_copy(tools.docker(repo, "v1.0.0"), f"oci:{copy}:v1.0.0", "--all", "--preserve-digests")
        assert tag_descriptor(copy, "v1.0.0")["digest"] == index.digest
