"""Matching repository names to cache rules and naming their upstream repositories."""

from __future__ import annotations

import pytest

from moorage.proxy.rules import (
    CacheRule,
    InvalidRule,
    UpstreamCredentials,
    check_prefix,
    check_upstream_prefix,
    check_upstream_url,
    rule_for,
)

HUB = CacheRule("docker-hub", "https://registry-1.docker.io")
GHCR = CacheRule("ghcr", "https://ghcr.io")
QUAY_TEAM = CacheRule("quay/team", "https://quay.io", upstream_prefix="team")
MIRROR = CacheRule("", "https://mirror.example")


def test_docker_hub_official_images_live_under_library() -> None:
    assert HUB.upstream_name("docker-hub/nginx") == "library/nginx"
    assert HUB.upstream_name("docker-hub/bitnami/nginx") == "bitnami/nginx"


def test_other_upstreams_take_the_name_as_it_is() -> None:
    assert GHCR.upstream_name("ghcr/nginx") == "nginx"
    assert GHCR.upstream_name("ghcr/org/app") == "org/app"


def test_an_upstream_prefix_is_put_in_front() -> None:
    assert QUAY_TEAM.upstream_name("quay/team/app") == "team/app"


def test_a_transparent_mirror_maps_every_name_to_itself() -> None:
    assert MIRROR.upstream_name("org/app") == "org/app"
    assert CacheRule("", "https://registry-1.docker.io").upstream_name("nginx") == "library/nginx"


def test_the_longest_prefix_wins_and_a_mirror_takes_what_no_other_rule_claims() -> None:
    rules = [MIRROR, HUB, CacheRule("quay", "https://quay.io"), QUAY_TEAM]
    assert rule_for(rules, "quay/team/app") is QUAY_TEAM
    assert rule_for(rules, "quay/other/app") == CacheRule("quay", "https://quay.io")
    assert rule_for(rules, "docker-hub/nginx") is HUB
    assert rule_for(rules, "hosted/app") is MIRROR
    assert rule_for([HUB], "hosted/app") is None


def test_a_prefix_matches_whole_components_only() -> None:
    assert rule_for([HUB], "docker-hubby/nginx") is None
    assert rule_for([HUB], "docker-hub") is None


@pytest.mark.parametrize(
    "url", ["ftp://x", "https://", "https://host/v2", "https://u:p@host", "host:5000", "https://h?q"]
)
def test_an_upstream_must_be_the_root_of_an_http_registry(url: str) -> None:
    with pytest.raises(InvalidRule):
        check_upstream_url(url)


def test_an_upstream_url_is_normalised() -> None:
    assert check_upstream_url("https://registry-1.docker.io/") == "https://registry-1.docker.io"
    assert check_upstream_url("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


@pytest.mark.parametrize("prefix", ["UP", "a//b", "../x", "a/", "-a", "x" * 201])
def test_a_prefix_must_be_a_namespace(prefix: str) -> None:
    with pytest.raises(InvalidRule):
        check_prefix(prefix)
    with pytest.raises(InvalidRule):
        check_upstream_prefix(prefix)


def test_an_empty_prefix_is_a_mirror_and_an_empty_upstream_prefix_is_none() -> None:
    assert check_prefix("") == ""
    assert check_upstream_prefix("") is None
    assert check_prefix("docker-hub/team_a") == "docker-hub/team_a"


def test_credentials_never_show_their_password() -> None:
    credentials = UpstreamCredentials("bot", "hunter2-secret")
    assert "hunter2" not in repr(credentials)
    assert "hunter2" not in repr(CacheRule("x", "https://h", credentials=credentials))
