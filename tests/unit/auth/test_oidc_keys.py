"""Fetching and caching an issuer's keys from the loopback test issuer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from moorage.auth.oidc_keys import JwksCache, KeysUnavailable, check_issuer_url, check_jwks
from tests.support.oidc_issuer import OidcIssuer, running_issuer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def issuer() -> Iterator[OidcIssuer]:
    with running_issuer() as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> JwksCache:
    return JwksCache(ttl=300, timeout=2, stale_for=3600, refetch_interval=30, clock=clock)


def kids(document: dict) -> set[str]:  # type: ignore[type-arg]
    return {key["kid"] for key in document["keys"]}


def test_keys_are_found_through_discovery_and_cached(issuer: OidcIssuer, cache: JwksCache) -> None:
    assert kids(cache.keys(issuer.url)) == {issuer.key.kid}
    cache.keys(issuer.url, want_kid=issuer.key.kid)
    assert (issuer.discovery_fetches, issuer.jwks_fetches) == (1, 1)


def test_keys_are_fetched_again_after_the_cache_expires(issuer: OidcIssuer, cache: JwksCache, clock: Clock) -> None:
    cache.keys(issuer.url)
    clock.now += 301
    cache.keys(issuer.url)
    assert issuer.jwks_fetches == 2


def test_a_configured_jwks_uri_skips_discovery(issuer: OidcIssuer, cache: JwksCache) -> None:
    cache.keys(issuer.url, jwks_uri=f"{issuer.url}/.well-known/jwks")
    assert (issuer.discovery_fetches, issuer.jwks_fetches) == (0, 1)


def test_an_unknown_kid_picks_up_a_rotated_key_but_not_more_than_once_per_interval(
    issuer: OidcIssuer, cache: JwksCache, clock: Clock
) -> None:
    cache.keys(issuer.url)
    new = issuer.rotate()
    clock.now += 31
    assert new.kid in kids(cache.keys(issuer.url, want_kid=new.kid))
    assert issuer.jwks_fetches == 2
    clock.now += 1
    cache.keys(issuer.url, want_kid="forged-kid")
    cache.keys(issuer.url, want_kid="forged-kid")
    assert issuer.jwks_fetches == 2


def test_the_last_good_keys_are_used_while_the_issuer_fails(issuer: OidcIssuer, cache: JwksCache, clock: Clock) -> None:
    first = cache.keys(issuer.url)
    issuer.jwks_status = 503
    clock.now += 301
    assert cache.keys(issuer.url) == first
    clock.now += 3600
    with pytest.raises(KeysUnavailable, match="503"):
        cache.keys(issuer.url)


def test_an_unreachable_issuer_is_reported_quickly(cache: JwksCache) -> None:
    with running_issuer() as gone:
        url = gone.url
    with pytest.raises(KeysUnavailable, match="failed"):
        cache.keys(url)


def test_a_discovery_document_for_another_issuer_is_refused(issuer: OidcIssuer, cache: JwksCache) -> None:
    with pytest.raises(KeysUnavailable, match="another issuer"):
        cache.keys(issuer.url + "/")


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"keys": "x"},
        {"keys": []},
        {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]},
        {"keys": [{"kty": "RSA", "n": "x", "e": "AQAB", "d": "private"}]},
        {"keys": [{"n": "x"}]},
    ],
)
def test_jwks_with_symmetric_private_or_no_keys_are_refused(document: object) -> None:
    with pytest.raises(ValueError):
        check_jwks(document)


@pytest.mark.parametrize(
    "url", ["https://token.actions.githubusercontent.com", "http://127.0.0.1:8080", "http://localhost/x"]
)
def test_issuer_urls_are_https_or_loopback(url: str) -> None:
    assert check_issuer_url(url) == url


@pytest.mark.parametrize("url", ["http://issuer.example", "ftp://x", "https://", "https://x?y=1", "issuer"])
def test_plain_http_issuers_elsewhere_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        check_issuer_url(url)
