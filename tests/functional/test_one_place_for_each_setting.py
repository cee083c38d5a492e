"""One place for each setting: a lifecycle policy set any way is the same policy, checked the same way;
mutability, labels and booleans are refused when ambiguous rather than silently guessed (issue 12)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.functional.governance_helpers import (
    API,
    assert_problem,
    create_repository,
    describe_repository,
    put_template,
    unique_namespace,
)
from tests.functional.helpers import push_image, unique_repo

VALID = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
            "action": {"type": "expire"},
        }
    ]
}
INVALID = {"rules": [{"rulePriority": 1, "action": {"type": "expire"}}]}  # no selection


def policy_url(name: str, scope: str = "repositories") -> str:
    return f"{API}/{scope}/{name}/lifecycle-policy"


def test_creating_a_repository_with_an_invalid_lifecycle_policy_is_refused_like_put(http: httpx.Client) -> None:
    name = unique_repo("onepol")
    problem = assert_problem(http.post(f"{API}/repositories", json={"name": name, "lifecycle_policy": INVALID}), 400)
    assert problem["title"] == "Invalid lifecycle policy"
    assert problem["field"] == "rules[0].selection" and problem["rulePriority"] == 1
    same = assert_problem(http.put(policy_url(name), json=INVALID), 400)
    assert (same["title"], same["field"], same["detail"]) == (problem["title"], problem["field"], problem["detail"])
    assert describe_repository(http, name).status_code == 404


def test_updating_a_repository_with_an_invalid_lifecycle_policy_is_refused(http: httpx.Client, repo: str) -> None:
    create_repository(http, repo)
    assert_problem(http.patch(f"{API}/repositories/{repo}", json={"lifecycle_policy": INVALID}), 400)
    assert describe_repository(http, repo).json()["lifecycle_policy"] is None
    assert http.get(policy_url(repo)).status_code == 404


def test_a_template_with_an_invalid_lifecycle_policy_is_refused(http: httpx.Client) -> None:
    prefix = unique_namespace("onetpl")
    assert_problem(http.put(f"{API}/creation-templates/{prefix}", json={"lifecycle_policy": INVALID}), 400)
    assert http.get(f"{API}/creation-templates/{prefix}").status_code == 404


def test_a_policy_set_in_the_repository_settings_is_the_one_the_lifecycle_api_shows(
    http: httpx.Client, repo: str
) -> None:
    create_repository(http, repo, lifecycle_policy=VALID)
    shown = http.get(policy_url(repo))
    assert shown.status_code == 200, shown.text
    assert shown.json()["policy"] == VALID and shown.json()["source"] == "repository"
    assert http.delete(policy_url(repo)).status_code == 204
    assert describe_repository(http, repo).json()["lifecycle_policy"] is None
    assert http.post(f"{API}/repositories/{repo}/lifecycle-preview").status_code == 404


def test_a_policy_put_through_the_lifecycle_api_shows_in_the_repository_settings(http: httpx.Client, repo: str) -> None:
    create_repository(http, repo)
    assert http.put(policy_url(repo), json=VALID).status_code == 200
    described = describe_repository(http, repo).json()
    assert described["lifecycle_policy"] == VALID and described["lifecycle_policy_source"] == "repository"
    cleared = http.patch(f"{API}/repositories/{repo}", json={"lifecycle_policy": None})
    assert cleared.status_code == 200 and cleared.json()["lifecycle_policy"] is None
    assert http.get(policy_url(repo)).status_code == 404


def test_reading_shows_the_namespace_policy_in_force_and_says_where_it_comes_from(http: httpx.Client) -> None:
    namespace = unique_namespace("onens")
    repo = f"{namespace}/team/api"
    push_image(http, repo, "v1")
    assert http.put(policy_url(namespace, "namespaces"), json=VALID).status_code == 200
    shown = http.get(policy_url(repo)).json()
    assert shown == {
        "name": repo,
        "scope": "repository",
        "source": "namespace",
        "namespace": namespace,
        "policy": VALID,
    }
    of_namespace = http.get(policy_url(f"{namespace}/team", "namespaces")).json()
    assert (of_namespace["name"], of_namespace["scope"], of_namespace["namespace"]) == (
        f"{namespace}/team",
        "namespace",
        namespace,
    )
    described = describe_repository(http, repo).json()
    assert described["lifecycle_policy"] == VALID
    assert (described["lifecycle_policy_source"], described["lifecycle_policy_namespace"]) == ("namespace", namespace)
    assert http.delete(policy_url(repo)).status_code == 404  # the repository has none of its own to delete


def test_a_template_policy_is_the_new_repositorys_own_policy(http: httpx.Client) -> None:
    namespace = unique_namespace("onetp")
    put_template(http, namespace, create_on_push=True, lifecycle_policy=VALID)
    repo = f"{namespace}/api"
    push_image(http, repo, "v1")
    shown = http.get(policy_url(repo)).json()
    assert shown["source"] == "repository" and shown["policy"] == VALID


def test_applying_one_repository_touches_only_that_repository(http: httpx.Client) -> None:
    ours, theirs = unique_repo("oneapply"), unique_repo("oneother")
    for name in (ours, theirs):
        push_image(http, name)
        push_image(http, name)
        assert http.put(policy_url(name), json=VALID).status_code == 200
    response = http.post(f"{API}/repositories/{ours}/lifecycle-apply")
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "completed" and run["images_expired"] == 1
    assert {item["repository"] for item in run["expired"]} == {ours}
    preview = http.post(f"{API}/repositories/{theirs}/lifecycle-preview").json()
    assert preview["summary"]["expiring"] == 1
    assert http.post(f"{API}/repositories/{unique_repo('absent')}/lifecycle-apply").status_code == 404


def test_switching_to_mutable_under_a_template_with_filters_clears_the_filters(http: httpx.Client) -> None:
    namespace = unique_namespace("onemut")
    put_template(
        http, namespace, tag_mutability="IMMUTABLE_WITH_EXCLUSION", tag_mutability_exclusion_filters=["latest"]
    )
    repo = f"{namespace}/api"
    create_repository(http, repo)
    response = http.patch(f"{API}/repositories/{repo}", json={"tag_mutability": "MUTABLE"})
    assert response.status_code == 200, response.text
    assert response.json()["tag_mutability_exclusion_filters"] == []
    created = create_repository(http, f"{namespace}/web", tag_mutability="IMMUTABLE")
    assert (created["tag_mutability"], created["tag_mutability_exclusion_filters"]) == ("IMMUTABLE", [])


def test_switching_between_modes_with_filters_keeps_them(http: httpx.Client, repo: str) -> None:
    create_repository(http, repo, tag_mutability="IMMUTABLE_WITH_EXCLUSION", tag_mutability_exclusion_filters=["dev-*"])
    response = http.patch(f"{API}/repositories/{repo}", json={"tag_mutability": "MUTABLE_WITH_EXCLUSION"})
    assert response.status_code == 200, response.text
    assert response.json()["tag_mutability_exclusion_filters"] == ["dev-*"]


def test_filters_can_be_cleared_explicitly(http: httpx.Client, repo: str) -> None:
    create_repository(http, repo, tag_mutability="IMMUTABLE_WITH_EXCLUSION", tag_mutability_exclusion_filters=["dev-*"])
    body = {"tag_mutability": "IMMUTABLE", "tag_mutability_exclusion_filters": []}
    response = http.patch(f"{API}/repositories/{repo}", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["tag_mutability_exclusion_filters"] == []
    # A mode that needs filters cannot lose them all.
    create_repository(
        http, f"{repo}-b", tag_mutability="MUTABLE_WITH_EXCLUSION", tag_mutability_exclusion_filters=["v*"]
    )
    assert_problem(http.patch(f"{API}/repositories/{repo}-b", json={"tag_mutability_exclusion_filters": []}), 422)


@pytest.mark.parametrize(
    "settings",
    [
        {"tag_mutability": "IMMUTABLE_WITH_EXCLUSION", "tag_mutability_exclusion_filters": ["latest", "latest"]},
        {"scan_on_push": "yes"},
        {"scan_on_push": 1},
        {"labels": {"team": None}},
    ],
)
def test_ambiguous_settings_are_refused_not_guessed(http: httpx.Client, settings: dict[str, Any]) -> None:
    name = unique_repo("oneamb")
    assert_problem(http.post(f"{API}/repositories", json={"name": name, **settings}), 422)
    assert describe_repository(http, name).status_code == 404


def test_template_booleans_are_strict(http: httpx.Client) -> None:
    prefix = unique_namespace("onebool")
    assert_problem(http.put(f"{API}/creation-templates/{prefix}", json={"create_on_push": "yes"}), 422)
    assert_problem(http.put(f"{API}/creation-templates/{prefix}", json={"scan_on_push": "true"}), 422)
