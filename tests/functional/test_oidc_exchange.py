"""Exchanging a CI job's OIDC ID token for a registry credential, over HTTP, with the loopback test issuer."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.oidc_issuer import (
    OidcIssuer,
    SigningKey,
    exchange_form,
    issuer_body,
    push_rule,
    running_issuer,
)

EXCHANGE = "/api/v1/oidc/exchange"
ISSUERS = "/api/v1/oidc/issuers"


@pytest.fixture
def github_repo() -> str:
    """A CI repository name unique to the test (the registry is shared by the session)."""
    return f"acme{uuid.uuid4().hex[:8]}/api"


@pytest.fixture
def issuer(http: httpx.Client, github_repo: str) -> Iterator[OidcIssuer]:
    """A running test issuer, trusted by the registry with one rule: `github_repo` on main may push there."""
    with running_issuer() as running:
        name = f"ci-{uuid.uuid4().hex[:10]}"
        response = http.post(ISSUERS, json=issuer_body(running, name, [push_rule(github_repo)]))
        assert response.status_code == 201, response.text
        running.name = name  # type: ignore[attr-defined]
        yield running
        http.delete(f"{ISSUERS}/{name}")


def exchange(http: httpx.Client, token: str) -> httpx.Response:
    return http.post(EXCHANGE, data=exchange_form(token))


def refused(http: httpx.Client, token: str, status: int = 401) -> dict[str, Any]:
    response = exchange(http, token)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert "password" not in problem and "access_token" not in problem
    assert token not in response.text
    return problem


def test_a_valid_id_token_is_exchanged_for_a_credential_with_exactly_the_rules_grants(
    http: httpx.Client, issuer: OidcIssuer, github_repo: str
) -> None:
    response = exchange(http, issuer.mint(issuer.claims(repository=github_repo)))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["username"] == "oidc"
    assert body["password"] == body["access_token"] and body["password"].startswith("moorage_oidc_")
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert 3500 <= body["expires_in"] <= 3600
    assert body["grants"] == [{"repository": github_repo, "actions": ["pull", "push"]}]
    assert body["subject"] == f"repo:{github_repo}:ref:refs/heads/main"


def test_each_exchange_issues_a_new_credential(http: httpx.Client, issuer: OidcIssuer, github_repo: str) -> None:
    token = issuer.mint(issuer.claims(repository=github_repo))
    first, second = exchange(http, token).json(), exchange(http, token).json()
    assert first["password"] != second["password"]


def test_the_exchange_also_takes_json(http: httpx.Client, issuer: OidcIssuer, github_repo: str) -> None:
    response = http.post(EXCHANGE, json=exchange_form(issuer.mint(issuer.claims(repository=github_repo))))
    assert response.status_code == 200, response.text


def test_the_issuers_keys_are_fetched_once_and_cached(http: httpx.Client, issuer: OidcIssuer, github_repo: str) -> None:
    for _ in range(3):
        assert exchange(http, issuer.mint(issuer.claims(repository=github_repo))).status_code == 200
    assert issuer.jwks_fetches == 1
    assert issuer.discovery_fetches == 1


def test_a_token_no_rule_matches_is_forbidden_with_the_reason(
    http: httpx.Client, issuer: OidcIssuer, github_repo: str
) -> None:
    problem = refused(http, issuer.mint(issuer.claims(repository=github_repo, ref="refs/heads/dev")), 403)
    assert problem["error"] == "access_denied"
    assert "ref does not match 'refs/heads/main'" in problem["detail"]
    problem = refused(http, issuer.mint(issuer.claims(repository="someone/else")), 403)
    assert "repository does not match" in problem["detail"]


def test_a_token_from_an_untrusted_issuer_is_refused(http: httpx.Client, github_repo: str) -> None:
    with running_issuer() as stranger:
        problem = refused(http, stranger.mint(stranger.claims(repository=github_repo)))
    assert problem["error"] == "invalid_grant"
    assert "not from a trusted issuer" in problem["detail"]


def test_a_token_claiming_a_trusted_issuer_but_signed_by_another_key_is_refused(
    http: httpx.Client, issuer: OidcIssuer, github_repo: str
) -> None:
    claims = issuer.claims(repository=github_repo)
    assert "signature" in refused(http, issuer.mint(claims, key=SigningKey.rsa(kid=issuer.key.kid)))["detail"]
    assert "does not publish" in refused(http, issuer.mint(claims, key=SigningKey.rsa()))["detail"]


def test_alg_none_and_hs256_with_the_public_key_are_refused(
    http: httpx.Client, issuer: OidcIssuer, github_repo: str
) -> None:
    claims = issuer.claims(repository=github_repo)
    assert "'none' is not accepted" in refused(http, issuer.forge_unsigned(claims))["detail"]
    assert "'HS256' is not accepted" in refused(http, issuer.forge_hs256_with_public_key(claims))["detail"]


def test_wrong_audience_is_refused(http: httpx.Client, issuer: OidcIssuer, github_repo: str) -> None:
    problem = refused(http, issuer.mint(issuer.claims(repository=github_repo), aud="sts.amazonaws.com"))
    assert "audience" in problem["detail"]


def test_an_expired_token_is_refused_and_says_it_expired(
    http: httpx.Client, issuer: OidcIssuer, github_repo: str
) -> None:
    now = int(time.time())
    claims = issuer.claims(repository=github_repo, iat=now - 1200, nbf=now - 1200, exp=now - 600)
    assert "expired at" in refused(http, issuer.mint(claims))["detail"]


def test_a_not_yet_valid_token_is_refused(http: httpx.Client, issuer: OidcIssuer, github_repo: str) -> None:
    now = int(time.time())
    claims = issuer.claims(repository=github_repo, nbf=now + 600, exp=now + 900)
    assert "not valid yet" in refused(http, issuer.mint(claims))["detail"]


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "password", "subject_token": "x"}, "unsupported_grant_type"),
        ({"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange"}, "invalid_request"),
        ({"subject_token": "x", "subject_token_type": "urn:ietf:params:oauth:token-type:saml2"}, "invalid_request"),
    ],
)
def test_malformed_exchange_requests_are_explained(http: httpx.Client, form: dict[str, str], error: str) -> None:
    response = http.post(EXCHANGE, data=form)
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_garbage_instead_of_a_token_is_refused(http: httpx.Client) -> None:
    for garbage in ("not-a-token", "a.b.c", "x" * 5000):
        assert refused(http, garbage)["error"] == "invalid_grant"


def test_a_distrusted_issuers_tokens_are_refused_from_then_on(
    http: httpx.Client, issuer: OidcIssuer, github_repo: str
) -> None:
    token = issuer.mint(issuer.claims(repository=github_repo))
    assert exchange(http, token).status_code == 200
    assert http.delete(f"{ISSUERS}/{issuer.name}").status_code == 204  # type: ignore[attr-defined]
    refused(http, token)


def test_static_keys_need_no_fetch(http: httpx.Client, github_repo: str) -> None:
    """Air-gapped sites configure the issuer's JWKS by hand; the issuer is never contacted."""
    offline = OidcIssuer(url=f"http://127.0.0.1:9/offline-{uuid.uuid4().hex[:8]}")
    name = f"offline-{uuid.uuid4().hex[:8]}"
    body = issuer_body(offline, name, [push_rule(github_repo)], jwks=offline.jwks())
    assert http.post(ISSUERS, json=body).status_code == 201
    try:
        response = exchange(http, offline.mint(offline.claims(repository=github_repo)))
        assert response.status_code == 200, response.text
        refused(http, offline.mint(offline.claims(repository=github_repo), key=SigningKey.rsa(kid=offline.key.kid)))
    finally:
        http.delete(f"{ISSUERS}/{name}")


def test_an_unreachable_issuer_is_reported_as_unavailable(http: httpx.Client, github_repo: str) -> None:
    with running_issuer() as gone:
        token = gone.mint(gone.claims(repository=github_repo))
        name = f"gone-{uuid.uuid4().hex[:8]}"
        assert http.post(ISSUERS, json=issuer_body(gone, name, [push_rule(github_repo)])).status_code == 201
    try:
        response = exchange(http, token)
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "temporarily_unavailable"
    finally:
        http.delete(f"{ISSUERS}/{name}")


def test_a_job_may_ask_for_less_than_its_rules_grant(http: httpx.Client, issuer: OidcIssuer, github_repo: str) -> None:
    form = exchange_form(issuer.mint(issuer.claims(repository=github_repo)))
    response = http.post(
        EXCHANGE, data={**form, "scope": f"repository:{github_repo}:pull repository:other/x:pull,push"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["grants"] == [{"repository": github_repo, "actions": ["pull"]}]


def test_asking_only_for_what_the_rules_do_not_grant_is_forbidden(
    http: httpx.Client, issuer: OidcIssuer, github_repo: str
) -> None:
    form = exchange_form(issuer.mint(issuer.claims(repository=github_repo)))
    problem = http.post(EXCHANGE, data={**form, "scope": "repository:other/x:pull"})
    assert problem.status_code == 403
    assert problem.json()["error"] == "access_denied"


@pytest.mark.parametrize("scope", ["registry:catalog:*", "repository:Bad/Name:pull", "repository:x:fly", "pull"])
def test_a_malformed_scope_is_explained(http: httpx.Client, issuer: OidcIssuer, github_repo: str, scope: str) -> None:
    form = exchange_form(issuer.mint(issuer.claims(repository=github_repo)))
    response = http.post(EXCHANGE, data={**form, "scope": scope})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
