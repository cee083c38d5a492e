"""Describing images (like `aws ecr describe-images`), pull statistics, and batch deletes."""

from __future__ import annotations

import httpx

from tests.functional.governance_helpers import API, assert_problem, eventually, images
from tests.functional.helpers import (
    image_manifest,
    index_manifest,
    push_blob,
    push_image,
    push_manifest,
    random_bytes,
)
from tests.support.server import RunningRegistry


def test_images_are_described_with_tags_sizes_and_push_times(http: httpx.Client, repo: str) -> None:
    config = push_blob(http, repo, b'{"architecture":"amd64","os":"linux"}')
    layers = [push_blob(http, repo, random_bytes(1000)), push_blob(http, repo, random_bytes(3000))]
    manifest = push_manifest(http, repo, image_manifest(config, layers), "v1")
    push_manifest(http, repo, manifest, "latest")
    [image] = images(http, repo)["images"]
    assert image["digest"] == manifest.digest
    assert image["tags"] == ["latest", "v1"]
    assert image["media_type"] == manifest.media_type
    assert image["size"] == manifest.size + config.size + 4000
    assert image["pushed_by"] == "anonymous" and image["pushed_at"].endswith("Z")
    assert image["platforms"] == [] and image["pull_count"] == 0 and image["last_pulled_at"] is None


def test_an_index_lists_its_platforms_and_counts_its_children(http: httpx.Client, repo: str) -> None:
    children = [push_image(http, repo) for _ in range(2)]
    index = push_manifest(http, repo, index_manifest(children), "multi")
    found = images(http, repo, digest=index.digest)["images"]
    assert len(found) == 1
    [image] = found
    assert [(p["os"], p["architecture"], p["digest"]) for p in image["platforms"]] == [
        ("linux", "amd64", children[0].digest),
        ("linux", "arm64", children[1].digest),
    ]
    child_sizes = {i["digest"]: i["size"] for i in images(http, repo)["images"] if i["parents"] == [index.digest]}
    assert image["size"] == index.size + sum(child_sizes[c.digest] for c in children)


def test_filter_tagged_untagged_and_sort_by_push_time(http: httpx.Client, repo: str) -> None:
    untagged = push_image(http, repo)
    tagged = [push_image(http, repo, f"t{i}") for i in range(3)]
    assert [i["digest"] for i in images(http, repo, tag_status="untagged")["images"]] == [untagged.digest]
    assert [i["digest"] for i in images(http, repo, tag_status="tagged")["images"]] == [m.digest for m in tagged]
    newest_first = [i["digest"] for i in images(http, repo, sort="-pushed_at")["images"]]
    assert newest_first == [m.digest for m in reversed([untagged, *tagged])]


def test_images_are_paginated(http: httpx.Client, repo: str) -> None:
    pushed = [push_image(http, repo).digest for _ in range(5)]
    seen: list[str] = []
    after = None
    while True:
        page = images(http, repo, limit=2, **({"after": after} if after is not None else {}))
        seen += [i["digest"] for i in page["images"]]
        after = page["next"]
        if after is None:
            break
    assert seen == pushed


def test_images_of_unknown_repository_is_not_found(http: httpx.Client, repo: str) -> None:
    assert_problem(http.get(f"{API}/repositories/{repo}/-/images"), 404)


def test_batch_delete_reports_each_item(http: httpx.Client, repo: str) -> None:
    kept = push_image(http, repo, "keep")
    gone = push_image(http, repo, "gone")
    by_digest = push_image(http, repo)
    body = {"image_ids": [{"tag": "gone"}, {"digest": by_digest.digest}, {"tag": "never-was"}, {"tag": "bad tag!"}]}
    response = http.post(f"{API}/repositories/{repo}/-/images/batch-delete", json=body)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["reference"], r["deleted"], r["code"]) for r in results] == [
        ("gone", True, None),
        (by_digest.digest, True, None),
        ("never-was", False, "MANIFEST_UNKNOWN"),
        ("bad tag!", False, "MANIFEST_INVALID"),
    ]
    remaining = {i["digest"]: i["tags"] for i in images(http, repo)["images"]}
    assert remaining == {kept.digest: ["keep"]}, gone  # its last tag went, so the image went too (like ECR)


def test_batch_delete_respects_immutable_tags(http: httpx.Client, repo: str) -> None:
    http.post(f"{API}/repositories", json={"name": repo, "tag_mutability": "IMMUTABLE"})
    push_image(http, repo, "v1")
    response = http.post(f"{API}/repositories/{repo}/-/images/batch-delete", json={"image_ids": [{"tag": "v1"}]})
    [result] = response.json()["results"]
    assert result["deleted"] is False and result["code"] == "DENIED" and "immutable" in result["message"]


def test_batch_delete_needs_exactly_one_of_tag_or_digest(http: httpx.Client, repo: str) -> None:
    push_image(http, repo, "x")
    url = f"{API}/repositories/{repo}/-/images/batch-delete"
    assert_problem(http.post(url, json={"image_ids": [{}]}), 422)
    assert_problem(http.post(url, json={"image_ids": [{"tag": "x", "digest": "sha256:" + "0" * 64}]}), 422)
    assert_problem(http.post(url, json={"image_ids": []}), 422)


def test_pulls_are_counted_in_the_background(start_registry: object, repo: str) -> None:
    server: RunningRegistry = start_registry(pull_flush_interval="0.2")  # type: ignore[operator]
    with httpx.Client(base_url=server.url, timeout=30) as client:
        manifest = push_image(client, repo, "v1")
        for _ in range(3):
            assert client.get(f"/v2/{repo}/manifests/v1").status_code == 200
        assert client.get(f"/v2/{repo}/manifests/{manifest.digest}").status_code == 200
        assert client.head(f"/v2/{repo}/manifests/v1").status_code == 200  # a HEAD is a check, not a pull

        def counted() -> dict[str, object] | None:
            [image] = images(client, repo)["images"]
            return image if image["pull_count"] == 4 else None

        image = eventually(counted)
        assert image["last_pulled_at"] is not None and image["last_pulled_at"] >= image["pushed_at"]
