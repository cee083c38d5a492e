"""Repositories as a control plane: create, describe, list, update, delete, and creation templates."""

from __future__ import annotations

import httpx
import pytest

from tests.functional.governance_helpers import (
    API,
    assert_problem,
    audit,
    create_repository,
    describe_repository,
    put_template,
    unique_namespace,
)
from tests.functional.helpers import assert_error, push_blob, push_image, unique_repo
from tests.support.server import RunningRegistry

POLICY = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
            "action": {"type": "expire"},
        }
    ]
}


def test_created_repository_is_described_with_its_settings(http: httpx.Client, repo: str) -> None:
    created = create_repository(
        http,
        repo,
        description="payments API",
        labels={"team": "payments"},
        visibility="public",
        tag_mutability="IMMUTABLE_WITH_EXCLUSION",
        tag_mutability_exclusion_filters=["latest", "dev-*"],
        scan_on_push=True,
        lifecycle_policy=POLICY,
    )
    described = describe_repository(http, repo).json()
    assert described == created
    assert described["description"] == "payments API"
    assert described["labels"] == {"team": "payments"}
    assert described["visibility"] == "public"
    assert described["tag_mutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert described["tag_mutability_exclusion_filters"] == ["latest", "dev-*"]
    assert described["scan_on_push"] is True
    assert described["lifecycle_policy"] == POLICY and described["lifecycle_policy_source"] == "repository"
    assert described["image_count"] == 0 and described["created_at"].endswith("Z")


def test_creating_an_existing_repository_is_a_conflict(http: httpx.Client, repo: str) -> None:
    create_repository(http, repo)
    assert_problem(http.post(f"{API}/repositories", json={"name": repo}), 409)


@pytest.mark.parametrize(
    "settings",
    [
        {"name": "Not/Valid"},
        {"tag_mutability": "IMMUTABLE_WITH_EXCLUSION"},
        {"tag_mutability": "MUTABLE", "tag_mutability_exclusion_filters": ["latest"]},
        {"tag_mutability": "IMMUTABLE_WITH_EXCLUSION", "tag_mutability_exclusion_filters": ["v[0-9]"]},
        {"tag_mutability": "SOMETIMES"},
        {"visibility": "internal"},
        {"labels": {"bad key": "x"}},
        {"lifecycle_policy": [1, 2]},
        {"unknown_setting": True},
    ],
)
def test_invalid_settings_are_refused_with_a_problem(http: httpx.Client, settings: dict[str, object]) -> None:
    body = {"name": unique_repo(), **settings}
    assert_problem(http.post(f"{API}/repositories", json=body), 422)
    assert describe_repository(http, body["name"]).status_code in (404, 422)


def test_update_changes_only_the_given_settings(http: httpx.Client, repo: str) -> None:
    create_repository(http, repo, description="old", labels={"a": "1"}, scan_on_push=True)
    response = http.patch(f"{API}/repositories/{repo}", json={"description": "new", "tag_mutability": "IMMUTABLE"})
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["description"] == "new" and updated["tag_mutability"] == "IMMUTABLE"
    assert updated["labels"] == {"a": "1"} and updated["scan_on_push"] is True
    entry = audit(http, repository=repo, action="repository.update")[-1]
    assert entry["detail"]["before"]["description"] == "old" and entry["detail"]["after"]["description"] == "new"


def test_unknown_repository_is_not_found(http: httpx.Client, repo: str) -> None:
    assert_problem(describe_repository(http, repo), 404)
    assert_problem(http.patch(f"{API}/repositories/{repo}", json={"description": "x"}), 404)
    assert_problem(http.delete(f"{API}/repositories/{repo}"), 404)


def test_repository_pushed_to_exists_with_default_settings(http: httpx.Client, repo: str) -> None:
    push_image(http, repo, "v1")
    described = describe_repository(http, repo).json()
    assert described["tag_mutability"] == "MUTABLE" and described["visibility"] == "private"
    assert described["image_count"] == 1 and described["tag_count"] == 1


def test_list_is_paginated_and_filtered(http: httpx.Client) -> None:
    namespace = unique_namespace()
    names = sorted(f"{namespace}/r{i}" for i in range(5))
    for position, name in enumerate(names):
        create_repository(http, name, labels={"tier": "prod" if position % 2 == 0 else "dev"})
    seen: list[str] = []
    last = None
    for _ in range(10):
        params = {"prefix": namespace, "limit": 2, **({"last": last} if last else {})}
        page = http.get(f"{API}/repositories", params=params).json()
        assert len(page["repositories"]) <= 2
        seen += [r["name"] for r in page["repositories"]]
        last = page["next"]
        if last is None:
            break
    assert seen == names
    prod = http.get(f"{API}/repositories", params={"prefix": namespace, "label": "tier=prod"}).json()
    assert [r["name"] for r in prod["repositories"]] == names[0::2]


def test_delete_is_refused_while_the_repository_holds_images_unless_forced(http: httpx.Client, repo: str) -> None:
    manifest = push_image(http, repo, "v1")
    body = assert_problem(http.delete(f"{API}/repositories/{repo}"), 409)
    assert "1 image" in body["detail"]
    assert http.get(f"/v2/{repo}/manifests/v1").status_code == 200
    assert http.delete(f"{API}/repositories/{repo}", params={"force": "true"}).status_code == 204
    assert_problem(describe_repository(http, repo), 404)
    assert_error(http.get(f"/v2/{repo}/manifests/{manifest.digest}"), 404, ["MANIFEST_UNKNOWN", "NAME_UNKNOWN"])
    history = http.get(f"{API}/repositories/{repo}/-/tags/v1/history").json()["events"]
    assert [e["action"] for e in history] == ["create", "delete"] and history[-1]["old_digest"] == manifest.digest


def test_empty_repository_is_deleted_without_force(http: httpx.Client, repo: str) -> None:
    create_repository(http, repo)
    assert http.delete(f"{API}/repositories/{repo}").status_code == 204
    assert_problem(describe_repository(http, repo), 404)


def test_creation_template_gives_pushed_repositories_their_settings(http: httpx.Client) -> None:
    namespace = unique_namespace()
    put_template(
        http,
        namespace,
        create_on_push=True,
        tag_mutability="IMMUTABLE_WITH_EXCLUSION",
        tag_mutability_exclusion_filters=["latest"],
        labels={"owner": namespace},
    )
    put_template(http, f"{namespace}/special", create_on_push=True, description="more specific")
    push_image(http, f"{namespace}/svc", "v1")
    described = describe_repository(http, f"{namespace}/svc").json()
    assert described["tag_mutability"] == "IMMUTABLE_WITH_EXCLUSION" and described["labels"] == {"owner": namespace}
    push_image(http, f"{namespace}/special/svc", "v1")
    assert describe_repository(http, f"{namespace}/special/svc").json()["description"] == "more specific"
    created = create_repository(http, f"{namespace}/explicit", description="given")
    assert created["description"] == "given" and created["tag_mutability"] == "IMMUTABLE_WITH_EXCLUSION"


def test_namespace_without_create_on_push_refuses_pushes_to_unknown_repositories(http: httpx.Client) -> None:
    namespace = unique_namespace()
    put_template(http, namespace, create_on_push=False)
    name = f"{namespace}/app"
    response = http.post(f"/v2/{name}/blobs/uploads/")
    assert_error(response, 404, "NAME_UNKNOWN")
    assert "does not exist" in response.json()["errors"][0]["message"]
    assert_error(
        http.put(f"/v2/{name}/manifests/v1", content=b"{}", headers={"Content-Type": "application/json"}),
        (400, 404),
        None,
    )
    assert_problem(describe_repository(http, name), 404)
    assert audit(http, repository=name, outcome="denied")[-1]["action"] == "repository.create"
    create_repository(http, name)
    push_image(http, name, "v1")
    assert http.get(f"/v2/{name}/manifests/v1").status_code == 200


def test_create_on_push_can_be_off_for_the_whole_registry(start_registry: object) -> None:
    server: RunningRegistry = start_registry(create_on_push="false")  # type: ignore[operator]
    with httpx.Client(base_url=server.url) as client:
        assert_error(client.post("/v2/anything/blobs/uploads/"), 404, "NAME_UNKNOWN")
        assert server.data_dir is not None
        staged = server.data_dir / "uploads"
        assert not staged.exists() or not list(staged.iterdir()), "a refused upload left a staging file"
        create_repository(client, "anything")
        push_blob(client, "anything")


def test_template_prefix_is_validated(http: httpx.Client) -> None:
    assert_problem(http.put(f"{API}/creation-templates/Bad_Prefix!", json={}), 422)
    assert_problem(http.get(f"{API}/creation-templates/{unique_namespace()}"), 404)
    assert_problem(http.delete(f"{API}/creation-templates/{unique_namespace()}"), 404)
