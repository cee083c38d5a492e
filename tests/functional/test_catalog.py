"""Listing repositories: GET /v2/_catalog (Distribution's catalog API, paginated like tags)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.functional.helpers import catalog, push_image


@pytest.fixture
def family(http: httpx.Client) -> tuple[str, list[str]]:
    """A unique prefix and three repositories under it, each with an image; none sorts between them."""
    prefix = f"catalog{uuid.uuid4().hex[:12]}"
    names = [f"{prefix}/a", f"{prefix}/b", f"{prefix}/c/d"]
    for name in names:
        push_image(http, name, "v1")
    return prefix, names


def next_link(response: httpx.Response) -> str | None:
    return response.links.get("next", {}).get("url")


def test_catalog_pages_start_after_last_and_link_onward(http: httpx.Client, family: tuple[str, list[str]]) -> None:
    prefix, names = family
    response = http.get("/v2/_catalog", params={"n": 2, "last": prefix})
    assert response.status_code == 200
    assert response.json()["repositories"] == names[:2]
    link = response.headers["link"]
    assert link.startswith("</v2/_catalog?") and link.endswith('>; rel="next"'), link
    target = httpx.URL(response.links["next"]["url"])
    assert target.params["n"] == "2"
    assert target.params["last"] == names[1]
    following = http.get(str(target))
    assert following.json()["repositories"][0] == names[2]


def test_catalog_lists_every_pushed_repository_in_order(http: httpx.Client, family: tuple[str, list[str]]) -> None:
    """Walking all pages yields each repository once, sorted; ours are among them."""
    _, names = family
    seen = catalog(http)
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen))
    assert set(names) <= set(seen)


def test_catalog_n_zero_returns_an_empty_list_without_link(http: httpx.Client, family: tuple[str, list[str]]) -> None:
    response = http.get("/v2/_catalog", params={"n": 0})
    assert response.status_code == 200
    assert response.json()["repositories"] in ([], None)
    assert "link" not in response.headers
