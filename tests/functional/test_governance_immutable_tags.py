"""Immutable tags: the exclusion-filter matrix through real pushes, idempotent re-push, refused moves and deletes."""

from __future__ import annotations

import httpx
import pytest

from tests.functional.governance_helpers import API, audit, create_repository, tag_history
from tests.functional.helpers import assert_error, push_image, push_manifest, put_manifest

IWE = {"tag_mutability": "IMMUTABLE_WITH_EXCLUSION", "tag_mutability_exclusion_filters": ["latest", "dev-*"]}
MWE = {"tag_mutability": "MUTABLE_WITH_EXCLUSION", "tag_mutability_exclusion_filters": ["v*", "sha-*"]}


@pytest.mark.parametrize(
    ("settings", "tag", "immutable"),
    [
        ({"tag_mutability": "MUTABLE"}, "v1.0.0", False),
        ({"tag_mutability": "IMMUTABLE"}, "latest", True),
        (IWE, "v1.0.0", True),
        (IWE, "sha-1234", True),
        (IWE, "latest", False),
        (IWE, "dev-feature", False),
        (MWE, "v1.0.0", True),
        (MWE, "sha-1234", True),
        (MWE, "latest", False),
        (MWE, "dev-feature", False),
    ],
)
def test_exclusion_filter_matrix(
    http: httpx.Client, repo: str, settings: dict[str, object], tag: str, immutable: bool
) -> None:
    create_repository(http, repo, **settings)
    first = push_image(http, repo, tag)
    second = push_image(http, repo)
    response = put_manifest(http, repo, tag, second.body, second.media_type)
    if immutable:
        assert_error(response, 403, "DENIED")
        assert http.get(f"/v2/{repo}/manifests/{tag}").headers["docker-content-digest"] == first.digest
    else:
        assert response.status_code == 201, response.text
        assert http.get(f"/v2/{repo}/manifests/{tag}").headers["docker-content-digest"] == second.digest


def test_pushing_an_immutable_tag_again_with_the_same_digest_succeeds(http: httpx.Client, repo: str) -> None:
    create_repository(http, repo, tag_mutability="IMMUTABLE")
    manifest = push_image(http, repo, "v1.0.0")
    for _ in range(2):
        push_manifest(http, repo, manifest, "v1.0.0")
    assert [e["action"] for e in tag_history(http, repo, "v1.0.0")] == ["create"]


def test_push_to_immutable_tag_with_new_digest_is_refused_naming_tag_and_rule(http: httpx.Client, repo: str) -> None:
    create_repository(http, repo, **IWE)
    first = push_image(http, repo, "v1.0.0")
    second = push_image(http, repo)
    response = put_manifest(http, repo, "v1.0.0", second.body, second.media_type)
    assert_error(response, 403, "DENIED")
    message = response.json()["errors"][0]["message"]
    assert "v1.0.0" in message and "immutable" in message and "IMMUTABLE_WITH_EXCLUSION" in message
    assert first.digest in message
    assert [e["new_digest"] for e in tag_history(http, repo, "v1.0.0")] == [first.digest]
    refusal = audit(http, repository=repo, outcome="denied")[-1]
    assert refusal["action"] == "tag.move" and refusal["target"] == "v1.0.0"
    assert refusal["detail"]["attempted"] == second.digest


def test_deleting_an_immutable_tag_is_refused(http: httpx.Client, repo: str) -> None:
    create_repository(http, repo, tag_mutability="IMMUTABLE")
    manifest = push_image(http, repo, "v1")
    response = http.delete(f"/v2/{repo}/manifests/v1")
    assert_error(response, 403, "DENIED")
    assert "v1" in response.json()["errors"][0]["message"]
    assert http.get(f"/v2/{repo}/manifests/v1").headers["docker-content-digest"] == manifest.digest


def test_deleting_the_image_by_digest_is_refused_while_it_carries_an_immutable_tag(
    http: httpx.Client, repo: str
) -> None:
    """Unlike ECR's batch-delete-image: a delete by digest would free the tag to point elsewhere."""
    create_repository(http, repo, tag_mutability="IMMUTABLE")
    manifest = push_image(http, repo, "v1")
    assert_error(http.delete(f"/v2/{repo}/manifests/{manifest.digest}"), 403, "DENIED")
    events = tag_history(http, repo, "v1")
    assert [(e["action"], e["old_digest"], e["new_digest"]) for e in events] == [("create", None, manifest.digest)]
    refusal = audit(http, repository=repo, outcome="denied")[-1]
    assert refusal["action"] == "tag.delete" and refusal["target"] == "v1"


def test_mutable_tags_move_and_delete_freely(http: httpx.Client, repo: str) -> None:
    create_repository(http, repo, **IWE)
    push_image(http, repo, "latest")
    push_image(http, repo, "latest")
    assert http.delete(f"/v2/{repo}/manifests/latest").status_code == 202


def test_making_a_repository_immutable_applies_to_existing_tags(http: httpx.Client, repo: str) -> None:
    push_image(http, repo, "v1")
    assert http.patch(f"{API}/repositories/{repo}", json={"tag_mutability": "IMMUTABLE"}).status_code == 200
    other = push_image(http, repo)
    assert_error(put_manifest(http, repo, "v1", other.body, other.media_type), 403, "DENIED")
