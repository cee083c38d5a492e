"""Tag naming rules: a namespace's and a repository's, enforced on every tagged push, shown by the API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.functional.governance_helpers import (
    API,
    assert_problem,
    audit,
    create_repository,
    put_template,
    unique_namespace,
)
from tests.functional.helpers import assert_error, push_image, push_manifest, put_manifest

PROD_RULES = {"allowed": ["v[0-9]*.[0-9]*.[0-9]*", "re:^sha-[0-9a-f]{7,40}$"], "refused": ["latest"]}


def put_namespace_rules(http: httpx.Client, namespace: str, rules: dict[str, Any]) -> httpx.Response:
    return http.put(f"{API}/namespaces/{namespace}/tag-rules", json=rules)


def prod(http: httpx.Client) -> str:
    """A fresh namespace governed like the issue's `prod/*`, and a repository name inside it."""
    namespace = unique_namespace("prod")
    response = put_namespace_rules(http, namespace, PROD_RULES)
    assert response.status_code == 200, response.text
    return f"{namespace}/api"


def refusal(response: httpx.Response) -> str:
    assert_error(response, 403, "DENIED")
    return str(response.json()["errors"][0]["message"])


@pytest.mark.parametrize("tag", ["v1.2.3", "v10.0.1", "sha-0123abc", "sha-" + "f" * 40])
def test_a_tag_the_namespace_allows_is_pushed(http: httpx.Client, tag: str) -> None:
    repo = prod(http)
    image = push_image(http, repo, tag)
    assert http.get(f"/v2/{repo}/manifests/{tag}").headers["docker-content-digest"] == image.digest


def test_pushing_latest_under_prod_is_refused_naming_the_rule_and_where_it_comes_from(http: httpx.Client) -> None:
    repo = prod(http)
    namespace = repo.split("/")[0]
    image = push_image(http, repo)  # by digest: no tag, no rule
    message = refusal(put_manifest(http, repo, "latest", image.body, image.media_type))
    assert f"tag 'latest' is refused by {namespace}/*'s rule 'latest'" in message
    assert http.get(f"/v2/{repo}/manifests/latest").status_code == 404
    denied = audit(http, repository=repo, outcome="denied")[-1]
    assert (denied["action"], denied["target"]) == ("tag.create", "latest")
    assert "latest" in denied["detail"]["reason"]


@pytest.mark.parametrize("tag", ["v1", "sha-123", "sha-XYZ0123", "main", "V1.2.3", "xv1.2.3"])
def test_a_tag_no_allowed_pattern_matches_is_refused_listing_the_patterns(http: httpx.Client, tag: str) -> None:
    repo = prod(http)
    image = push_image(http, repo)
    message = refusal(put_manifest(http, repo, tag, image.body, image.media_type))
    assert f"tag '{tag}' matches none of" in message and "v[0-9]*.[0-9]*.[0-9]*" in message
    assert http.get(f"/v2/{repo}/manifests/{tag}").status_code == 404


def test_a_refused_tagged_push_stores_no_manifest_while_a_push_by_digest_is_unaffected(http: httpx.Client) -> None:
    repo = prod(http)
    image = push_image(http, repo, "v1.0.0")
    other = push_image(http, repo)
    assert put_manifest(http, repo, "latest", other.body, other.media_type).status_code == 403
    assert http.get(f"/v2/{repo}/manifests/{other.digest}").status_code == 200  # it was pushed by digest before
    assert http.get(f"/v2/{repo}/tags/list").json()["tags"] == ["v1.0.0"]
    assert http.get(f"/v2/{repo}/manifests/{image.digest}").status_code == 200


def test_moving_an_existing_tag_to_a_name_the_rules_refuse_is_refused_too(http: httpx.Client) -> None:
    namespace = unique_namespace("prod")
    repo = f"{namespace}/api"
    push_image(http, repo, "latest")
    assert put_namespace_rules(http, namespace, PROD_RULES).status_code == 200
    second = push_image(http, repo)
    message = refusal(put_manifest(http, repo, "latest", second.body, second.media_type))
    assert "refused by" in message


def test_existing_tags_are_not_touched_when_rules_change(http: httpx.Client) -> None:
    namespace = unique_namespace("prod")
    repo = f"{namespace}/api"
    image = push_image(http, repo, "latest")
    assert put_namespace_rules(http, namespace, PROD_RULES).status_code == 200
    assert http.get(f"/v2/{repo}/manifests/latest").headers["docker-content-digest"] == image.digest
    push_manifest(http, repo, image, "latest")  # the same manifest again moves nothing: accepted
    assert http.get(f"/v2/{repo}/tags/list").json()["tags"] == ["latest"]


def test_refused_wins_over_allowed(http: httpx.Client, repo: str) -> None:
    create_repository(http, repo, tag_rules={"allowed": ["v*"], "refused": ["v0*"]})
    push_image(http, repo, "v1")
    image = push_image(http, repo)
    message = refusal(put_manifest(http, repo, "v0.1", image.body, image.media_type))
    assert f"tag 'v0.1' is refused by {repo}'s rule 'v0*'" in message


def test_an_empty_allow_list_allows_everything_not_refused(http: httpx.Client, repo: str) -> None:
    create_repository(http, repo, tag_rules={"refused": ["latest", "re:^tmp-.*$"]})
    push_image(http, repo, "anything-goes")
    image = push_image(http, repo)
    assert put_manifest(http, repo, "tmp-1", image.body, image.media_type).status_code == 403


def test_a_repository_cannot_loosen_its_namespace_rules(http: httpx.Client) -> None:
    repo = prod(http)
    response = http.patch(f"{API}/repositories/{repo}", json={"tag_rules": {"allowed": ["*"]}})
    # the repository may not exist yet: create it with its own permissive rules
    if response.status_code == 404:
        create_repository(http, repo, tag_rules={"allowed": ["*"]})
    image = push_image(http, repo)
    message = refusal(put_manifest(http, repo, "latest", image.body, image.media_type))
    assert "/*'s rule 'latest'" in message


def test_repository_get_shows_the_rules_in_force_and_their_source(http: httpx.Client) -> None:
    repo = prod(http)
    namespace = repo.split("/")[0]
    create_repository(http, repo, tag_rules={"refused": ["re:^dev-.*$"]})
    body = http.get(f"{API}/repositories/{repo}").json()
    assert body["tag_rules"] == {"allowed": [], "refused": ["re:^dev-.*$"]}
    assert body["tag_rules_in_force"] == [
        {"source": f"{namespace}/*", "scope": "namespace", "name": namespace, **PROD_RULES},
        {"source": repo, "scope": "repository", "name": repo, "allowed": [], "refused": ["re:^dev-.*$"]},
    ]
    namespace_rules = http.get(f"{API}/namespaces/{namespace}/tag-rules").json()
    assert namespace_rules["applies_to"] == f"{namespace}/*"
    assert (namespace_rules["allowed"], namespace_rules["refused"]) == (PROD_RULES["allowed"], PROD_RULES["refused"])


def test_clearing_a_repository_rules_with_null(http: httpx.Client, repo: str) -> None:
    create_repository(http, repo, tag_rules={"refused": ["latest"]})
    response = http.patch(f"{API}/repositories/{repo}", json={"tag_rules": None})
    assert response.status_code == 200, response.text
    assert response.json()["tag_rules"] is None and response.json()["tag_rules_in_force"] == []
    push_image(http, repo, "latest")


def test_a_creation_template_carries_tag_rules_to_repositories_created_on_push(http: httpx.Client) -> None:
    namespace = unique_namespace("tpl")
    template = put_template(http, namespace, create_on_push=True, tag_rules={"refused": ["latest"]})
    assert template["tag_rules"] == {"allowed": [], "refused": ["latest"]}
    assert http.get(f"{API}/creation-templates/{namespace}").json()["tag_rules"]["refused"] == ["latest"]
    repo = f"{namespace}/web"
    push_image(http, repo, "v1")
    assert http.get(f"{API}/repositories/{repo}").json()["tag_rules"] == {"allowed": [], "refused": ["latest"]}
    image = push_image(http, repo)
    message = refusal(put_manifest(http, repo, "latest", image.body, image.media_type))
    assert f"refused by {repo}'s rule 'latest'" in message


@pytest.mark.parametrize(
    "pattern",
    [
        "re:(a+)+$",  # nested repetition: exponential backtracking
        "re:^(a|aa)*$",  # alternation under repetition
        "re:^(x*)*y$",
        "re:^[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[0-9]$",  # five open-ended repetitions
        "re:^(a)\\1$",  # back-reference
        "re:^(?=v)v1$",  # look-ahead
        "re:[unclosed",
        "re:" + "a" * 300,
        "glob:v/1",  # a slash can never be in a tag
        "glob:[unclosed",
        "",
    ],
)
def test_invalid_or_catastrophic_patterns_are_refused_when_set(http: httpx.Client, repo: str, pattern: str) -> None:
    response = http.post(f"{API}/repositories", json={"name": repo, "tag_rules": {"allowed": [pattern]}})
    assert response.status_code == 422, response.text
    assert http.get(f"{API}/repositories/{repo}").status_code == 404
    namespace = unique_namespace("bad")
    assert_problem(put_namespace_rules(http, namespace, {"refused": [pattern]}), 422)
    assert http.get(f"{API}/namespaces/{namespace}/tag-rules").status_code == 404


def test_unknown_fields_and_duplicates_in_rules_are_refused(http: httpx.Client, repo: str) -> None:
    for rules in ({"allow": ["v*"]}, {"allowed": ["v*", "v*"]}, {"allowed": "v*"}):
        response = http.post(f"{API}/repositories", json={"name": repo, "tag_rules": rules})
        assert response.status_code == 422, (rules, response.text)


def test_namespace_rules_can_be_deleted_and_their_changes_are_audited(http: httpx.Client) -> None:
    repo = prod(http)
    namespace = repo.split("/")[0]
    assert http.delete(f"{API}/namespaces/{namespace}/tag-rules").status_code == 204
    assert_problem(http.delete(f"{API}/namespaces/{namespace}/tag-rules"), 404)
    push_image(http, repo, "latest")
    entries = [e for e in audit(http, action="tag_rules.update") if e["target"] == f"{namespace}/*"]
    assert entries and entries[-1]["detail"]["after"] == PROD_RULES
    assert [e for e in audit(http, action="tag_rules.delete") if e["target"] == f"{namespace}/*"]


def test_a_lifecycle_run_still_expires_by_tag_prefix_under_tag_rules(http: httpx.Client) -> None:
    repo = prod(http)
    old = [push_image(http, repo, f"sha-{n:07x}") for n in range(3)]
    release = push_image(http, repo, "v1.0.0")
    rule = {"tagStatus": "tagged", "tagPrefixList": ["sha-"], "countType": "imageCountMoreThan", "countNumber": 1}
    policy = {"rules": [{"rulePriority": 1, "selection": rule, "action": {"type": "expire"}}]}
    assert http.put(f"{API}/repositories/{repo}/lifecycle-policy", json=policy).status_code == 200
    assert http.post(f"{API}/lifecycle/runs").status_code == 200
    assert [http.get(f"/v2/{repo}/manifests/{image.digest}").status_code for image in old] == [404, 404, 200]
    assert http.get(f"/v2/{repo}/manifests/{release.digest}").status_code == 200
    assert sorted(http.get(f"/v2/{repo}/tags/list").json()["tags"]) == ["sha-0000002", "v1.0.0"]


def test_an_immutable_repository_with_rules_enforces_both(http: httpx.Client) -> None:
    repo = prod(http)
    create_repository(http, repo, tag_mutability="IMMUTABLE", tag_rules={"refused": ["re:^v0\\..*$"]})
    first = push_image(http, repo, "v1.0.0")
    second = push_image(http, repo)
    immutable = refusal(put_manifest(http, repo, "v1.0.0", second.body, second.media_type))
    assert "immutable" in immutable
    assert f"refused by {repo}'s rule 're:^v0\\..*$'" in refusal(
        put_manifest(http, repo, "v0.9.0", second.body, second.media_type)
    )
    assert "/*'s rule 'latest'" in refusal(put_manifest(http, repo, "latest", second.body, second.media_type))
    assert_error(http.delete(f"/v2/{repo}/manifests/v1.0.0"), 403, "DENIED")
    push_manifest(http, repo, second, "v1.0.1")
    assert http.get(f"/v2/{repo}/manifests/v1.0.0").headers["docker-content-digest"] == first.digest


def test_a_namespace_too_long_to_hold_a_repository_is_refused_not_a_server_error(http: httpx.Client) -> None:
    namespace = "n" * 254
    assert_problem(put_namespace_rules(http, namespace, PROD_RULES), 422)
    assert_problem(http.get(f"{API}/namespaces/{namespace}/tag-rules"), 422)
    assert_problem(http.delete(f"{API}/namespaces/{namespace}/tag-rules"), 422)
