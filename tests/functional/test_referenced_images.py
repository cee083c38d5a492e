"""Nothing still referenced is deleted: index children, immutable tags, and ECR's batch-delete-image semantics."""

from __future__ import annotations

import httpx

from tests.functional.governance_helpers import API, audit, create_repository, images, tag_history
from tests.functional.helpers import Manifest, assert_error, index_manifest, push_image, push_manifest


def push_multi_arch(http: httpx.Client, repo: str, tag: str = "multi") -> tuple[Manifest, list[Manifest]]:
    """Two untagged platform images and an index listing them, pushed as `tag` (what `skopeo copy --all` does)."""
    children = [push_image(http, repo), push_image(http, repo)]
    return push_manifest(http, repo, index_manifest(children), tag), children


def assert_fully_pullable(http: httpx.Client, repo: str, reference: str) -> None:
    index = http.get(f"/v2/{repo}/manifests/{reference}")
    assert index.status_code == 200, index.text
    for child in index.json()["manifests"]:
        response = http.get(f"/v2/{repo}/manifests/{child['digest']}")
        assert response.status_code == 200, f"child {child['digest']} of {reference}: {response.text}"


def batch_delete(http: httpx.Client, repo: str, *image_ids: dict[str, str], **extra: object) -> httpx.Response:
    return http.post(f"{API}/repositories/{repo}/-/images/batch-delete", json={"image_ids": list(image_ids), **extra})


def test_deleting_a_platform_image_an_index_lists_is_refused_naming_the_index(http: httpx.Client, repo: str) -> None:
    index, children = push_multi_arch(http, repo)
    response = http.delete(f"/v2/{repo}/manifests/{children[0].digest}")
    assert_error(response, 409, "DENIED")
    message = response.json()["errors"][0]["message"]
    assert index.digest in message and "ImageReferencedByManifestList" in message
    assert_fully_pullable(http, repo, "multi")


def test_batch_delete_of_a_platform_image_an_index_lists_is_refused_like_ecr(http: httpx.Client, repo: str) -> None:
    _, children = push_multi_arch(http, repo)
    response = batch_delete(http, repo, {"digest": children[1].digest})
    assert response.status_code == 200, response.text
    [result] = response.json()["results"]
    assert result["deleted"] is False and result["code"] == "ImageReferencedByManifestList"
    assert_fully_pullable(http, repo, "multi")


def test_the_index_and_then_its_children_can_be_deleted_even_named_children_first(
    http: httpx.Client, repo: str
) -> None:
    index, children = push_multi_arch(http, repo)
    ids = [{"digest": child.digest} for child in children] + [{"digest": index.digest}]
    results = batch_delete(http, repo, *ids).json()["results"]
    assert [result["deleted"] for result in results] == [True, True, True], results
    for manifest in (index, *children):
        assert http.get(f"/v2/{repo}/manifests/{manifest.digest}").status_code == 404


def test_untagged_listing_offers_no_index_child_as_a_leftover_and_the_full_listing_names_its_parent(
    http: httpx.Client, repo: str
) -> None:
    index, children = push_multi_arch(http, repo)
    stray = push_image(http, repo)
    untagged = [image["digest"] for image in images(http, repo, tag_status="untagged")["images"]]
    assert untagged == [stray.digest]
    listed = {image["digest"]: image for image in images(http, repo)["images"]}
    assert all(listed[child.digest]["parents"] == [index.digest] for child in children)
    assert listed[stray.digest]["parents"] == [] and listed[index.digest]["parents"] == []


def test_deleting_by_digest_an_image_with_an_immutable_tag_is_refused_and_the_tag_cannot_be_repointed(
    http: httpx.Client, repo: str
) -> None:
    """What `skopeo delete docker://…:v1.0.0` does: it resolves the tag and deletes the digest."""
    create_repository(http, repo, tag_mutability="IMMUTABLE")
    release = push_image(http, repo, "v1.0.0")
    response = http.delete(f"/v2/{repo}/manifests/{release.digest}")
    assert_error(response, 403, "DENIED")
    message = response.json()["errors"][0]["message"]
    assert "v1.0.0" in message and "immutable" in message
    other = push_image(http, repo)
    refused = http.put(f"/v2/{repo}/manifests/v1.0.0", content=other.body, headers={"Content-Type": other.media_type})
    assert_error(refused, 403, "DENIED")
    assert http.get(f"/v2/{repo}/manifests/v1.0.0").headers["docker-content-digest"] == release.digest
    batch = batch_delete(http, repo, {"digest": release.digest}).json()["results"]
    assert batch[0]["deleted"] is False and batch[0]["code"] == "DENIED"


def test_an_excluded_tag_does_not_protect_its_image_from_a_delete_by_digest(http: httpx.Client, repo: str) -> None:
    create_repository(http, repo, tag_mutability="IMMUTABLE_WITH_EXCLUSION", tag_mutability_exclusion_filters=["dev-*"])
    build = push_image(http, repo, "dev-42")
    assert http.delete(f"/v2/{repo}/manifests/{build.digest}").status_code == 202


def test_an_admin_forces_the_delete_of_an_immutable_image_with_a_reason_that_goes_to_the_audit_log(
    http: httpx.Client, repo: str
) -> None:
    create_repository(http, repo, tag_mutability="IMMUTABLE")
    release = push_image(http, repo, "v1")
    assert batch_delete(http, repo, {"digest": release.digest}, force=True).status_code == 422  # no reason
    response = batch_delete(http, repo, {"digest": release.digest}, force=True, reason="CVE-2026-1 leaked a key")
    assert response.json()["results"][0]["deleted"] is True, response.text
    assert http.get(f"/v2/{repo}/manifests/{release.digest}").status_code == 404
    events = tag_history(http, repo, "v1")
    assert [(e["action"], e["new_digest"]) for e in events] == [("create", release.digest), ("delete", None)]
    entry = [e for e in audit(http, repository=repo) if e["action"] == "tag.delete"][-1]
    assert "CVE-2026-1 leaked a key" in entry["detail"]["override"]


def test_batch_delete_of_an_images_last_tag_deletes_the_image_like_ecr(http: httpx.Client, repo: str) -> None:
    shared = push_image(http, repo, "a")
    push_manifest(http, repo, shared, "b")
    results = batch_delete(http, repo, {"tag": "a"}).json()["results"]
    assert results[0]["deleted"] is True
    assert http.get(f"/v2/{repo}/manifests/{shared.digest}").status_code == 200  # still tagged b
    assert batch_delete(http, repo, {"tag": "b"}).json()["results"][0]["deleted"] is True
    assert http.get(f"/v2/{repo}/manifests/{shared.digest}").status_code == 404
    assert images(http, repo)["images"] == []


def test_batch_delete_of_the_last_tag_of_a_platform_image_is_refused_and_keeps_the_tag(
    http: httpx.Client, repo: str
) -> None:
    _, children = push_multi_arch(http, repo)
    push_manifest(http, repo, children[0], "amd64")
    [result] = batch_delete(http, repo, {"tag": "amd64"}).json()["results"]
    assert result["deleted"] is False and result["code"] == "ImageReferencedByManifestList"
    assert http.get(f"/v2/{repo}/manifests/amd64").status_code == 200
    assert_fully_pullable(http, repo, "multi")
