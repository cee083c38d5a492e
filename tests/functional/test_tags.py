"""Listing tags (spec "Content Discovery", end-8a/end-8b)."""

from __future__ import annotations

import httpx
import pytest

from tests.functional.helpers import assert_error, push_image, push_manifest, unique_repo

TAGS = ["1.0", "1.1", "2.0", "alpha", "beta", "latest", "v10", "v9"]  # already in lexical order


@pytest.fixture
def tagged_repo(http: httpx.Client, repo: str) -> str:
    """A repository whose one manifest carries TAGS, pushed out of order."""
    manifest = push_image(http, repo)
    for tag in reversed(TAGS):
        push_manifest(http, repo, manifest, tag)
    return repo


def next_link(response: httpx.Response) -> str | None:
    """The RFC 5988 `rel="next"` target of a response, if any."""
    return response.links.get("next", {}).get("url")


def test_tags_are_listed_in_lexical_order(http: httpx.Client, tagged_repo: str) -> None:
    response = http.get(f"/v2/{tagged_repo}/tags/list")
    assert response.status_code == 200
    assert response.json() == {"name": tagged_repo, "tags": TAGS}
    assert next_link(response) is None


def test_repository_with_only_untagged_manifests_has_no_tags(http: httpx.Client, repo: str) -> None:
    """Spec: The list of tags MAY be empty if there are no tags on the repository."""
    push_image(http, repo)
    response = http.get(f"/v2/{repo}/tags/list")
    assert response.status_code == 200
    assert response.json()["name"] == repo
    assert response.json()["tags"] in ([], None)


def test_n_limits_the_page_and_links_to_the_next(http: httpx.Client, tagged_repo: str) -> None:
    """With more tags than `n`, exactly `n` come back and `Link: <...>; rel="next"` points on (RFC 5988)."""
    response = http.get(f"/v2/{tagged_repo}/tags/list", params={"n": 3})
    assert response.status_code == 200
    assert response.json()["tags"] == TAGS[:3]
    link = response.headers["link"]
    assert link.startswith(f"</v2/{tagged_repo}/tags/list?") and link.endswith('>; rel="next"'), link
    target = httpx.URL(response.links["next"]["url"])
    assert target.params["n"] == "3"
    assert target.params["last"] == TAGS[2]


def test_following_next_links_visits_every_tag_once(http: httpx.Client, tagged_repo: str) -> None:
    seen: list[str] = []
    url: str | None = f"/v2/{tagged_repo}/tags/list?n=3"
    pages = 0
    while url is not None:
        response = http.get(url)
        assert response.status_code == 200
        seen += response.json()["tags"]
        url = next_link(response)
        pages += 1
        assert pages <= len(TAGS)
    assert seen == TAGS
    assert pages == 3


def test_last_page_has_no_next_link(http: httpx.Client, tagged_repo: str) -> None:
    response = http.get(f"/v2/{tagged_repo}/tags/list", params={"n": 5, "last": TAGS[2]})
    assert response.json()["tags"] == TAGS[3:]
    assert next_link(response) is None


def test_n_larger_than_the_tag_count_returns_them_all(http: httpx.Client, tagged_repo: str) -> None:
    response = http.get(f"/v2/{tagged_repo}/tags/list", params={"n": 100})
    assert response.json()["tags"] == TAGS
    assert next_link(response) is None


def test_n_equal_to_the_tag_count_returns_them_all(http: httpx.Client, tagged_repo: str) -> None:
    response = http.get(f"/v2/{tagged_repo}/tags/list", params={"n": len(TAGS)})
    assert response.json()["tags"] == TAGS


def test_n_zero_returns_an_empty_list_without_link(http: httpx.Client, tagged_repo: str) -> None:
    """Spec: When n is zero, this endpoint MUST return an empty list, and MUST NOT include a Link header."""
    response = http.get(f"/v2/{tagged_repo}/tags/list", params={"n": 0})
    assert response.status_code == 200
    assert response.json()["tags"] in ([], None)
    assert "link" not in response.headers


def test_last_alone_returns_the_tags_after_it(http: httpx.Client, tagged_repo: str) -> None:
    """`last` is exclusive, and "When using the last query parameter, the n parameter is OPTIONAL."""
    response = http.get(f"/v2/{tagged_repo}/tags/list", params={"last": "alpha"})
    assert response.json()["tags"] == TAGS[TAGS.index("alpha") + 1 :]


def test_last_that_is_not_a_tag_starts_after_its_position(http: httpx.Client, tagged_repo: str) -> None:
    response = http.get(f"/v2/{tagged_repo}/tags/list", params={"last": "b", "n": 2})
    assert response.json()["tags"] == ["beta", "latest"]


def test_last_after_every_tag_returns_an_empty_list(http: httpx.Client, tagged_repo: str) -> None:
    response = http.get(f"/v2/{tagged_repo}/tags/list", params={"last": "zzz"})
    assert response.status_code == 200
    assert response.json()["tags"] in ([], None)


@pytest.mark.parametrize("n", ["-1", "abc"])
def test_invalid_n_is_refused_or_ignored_without_server_error(http: httpx.Client, tagged_repo: str, n: str) -> None:
    response = http.get(f"/v2/{tagged_repo}/tags/list", params={"n": n})
    if response.status_code == 200:
        assert response.json()["tags"] == TAGS
    else:
        assert_error(response, 400, None)


def test_tags_of_unknown_repository_is_name_unknown(http: httpx.Client) -> None:
    assert_error(http.get(f"/v2/{unique_repo()}/tags/list"), 404, "NAME_UNKNOWN")


def test_deleted_tag_leaves_the_list(http: httpx.Client, tagged_repo: str) -> None:
    assert http.delete(f"/v2/{tagged_repo}/manifests/beta").status_code == 202
    assert http.get(f"/v2/{tagged_repo}/tags/list").json()["tags"] == [t for t in TAGS if t != "beta"]
