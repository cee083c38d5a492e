"""Managing trusted OIDC issuers and their claim rules through /api/v1/oidc/issuers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.oidc_issuer import AUDIENCE, OidcIssuer, issuer_body, push_rule

ISSUERS = "/api/v1/oidc/issuers"


@pytest.fixture
def name(http: httpx.Client) -> Iterator[str]:
    """A unique issuer name; the issuer is removed after the test."""
    value = f"ci-{uuid.uuid4().hex[:10]}"
    yield value
    http.delete(f"{ISSUERS}/{value}")


@pytest.fixture
def issuer() -> OidcIssuer:
    return OidcIssuer(url=f"http://127.0.0.1:9/{uuid.uuid4().hex[:8]}")


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def test_an_issuer_is_trusted_listed_shown_and_removed(http: httpx.Client, name: str, issuer: OidcIssuer) -> None:
    created = http.post(ISSUERS, json=issuer_body(issuer, name, [push_rule("acme/api")]))
    assert created.status_code == 201, created.text
    shown = http.get(f"{ISSUERS}/{name}").json()
    assert shown == created.json()
    assert shown["issuer"] == issuer.url and shown["audience"] == AUDIENCE and shown["jwks"] is None
    assert shown["rules"] == [
        {
            "name": "push",
            "claims": {"repository": "acme/api", "ref": "refs/heads/main"},
            "repositories": ["acme/api"],
            "actions": ["push"],
        }
    ]
    assert name in [item["name"] for item in http.get(ISSUERS).json()]
    assert http.delete(f"{ISSUERS}/{name}").status_code == 204
    problem(http.get(f"{ISSUERS}/{name}"), 404)
    problem(http.delete(f"{ISSUERS}/{name}"), 404)


def test_the_same_name_or_issuer_url_cannot_be_trusted_twice(http: httpx.Client, name: str, issuer: OidcIssuer) -> None:
    assert http.post(ISSUERS, json=issuer_body(issuer, name)).status_code == 201
    problem(http.post(ISSUERS, json=issuer_body(issuer, name)), 409)
    other = OidcIssuer(url=issuer.url)
    problem(http.post(ISSUERS, json=issuer_body(other, f"{name}-2")), 409)


@pytest.mark.parametrize(
    "changes",
    [
        {"issuer": "http://issuer.example"},  # plain http off loopback
        {"issuer": "not a url"},
        {"audience": ""},
        {"name": "has space"},
        {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}},  # symmetric: forgeable by anyone holding it
        {"jwks": {"keys": []}},
        {"jwks_uri": "http://keys.example/jwks"},
    ],
)
def test_unsafe_issuer_settings_are_refused(
    http: httpx.Client, name: str, issuer: OidcIssuer, changes: dict[str, Any]
) -> None:
    problem(http.post(ISSUERS, json={**issuer_body(issuer, name), **changes}), 422)
    problem(http.get(f"{ISSUERS}/{name}"), 404)


@pytest.mark.parametrize(
    "rule",
    [
        {"name": "all", "claims": {}, "repositories": ["acme/api"], "actions": ["push"]},
        {"name": "star", "claims": {"repository": "*"}, "repositories": ["acme/api"], "actions": ["push"]},
        {"name": "admin", "claims": {"repository": "acme/api"}, "repositories": ["acme/api"], "actions": ["admin"]},
        {"name": "pattern", "claims": {"repository": "acme/api"}, "repositories": ["acme/*/x"], "actions": ["pull"]},
        {"name": "verb", "claims": {"repository": "acme/api"}, "repositories": ["acme/api"], "actions": ["fly"]},
    ],
)
def test_rules_that_match_everyone_or_grant_admin_are_refused(
    http: httpx.Client, name: str, issuer: OidcIssuer, rule: dict[str, Any]
) -> None:
    assert http.post(ISSUERS, json=issuer_body(issuer, name)).status_code == 201
    problem(http.post(f"{ISSUERS}/{name}/rules", json=rule), 422)
    problem(http.post(ISSUERS, json=issuer_body(OidcIssuer(url=issuer.url + "x"), name + "x", [rule])), 422)
    assert http.get(f"{ISSUERS}/{name}/rules").json() == []


def test_rules_are_added_and_removed(http: httpx.Client, name: str, issuer: OidcIssuer) -> None:
    assert http.post(ISSUERS, json=issuer_body(issuer, name)).status_code == 201
    added = http.post(f"{ISSUERS}/{name}/rules", json=push_rule("acme/api", name="api"))
    assert added.status_code == 201, added.text
    assert [rule["name"] for rule in added.json()["rules"]] == ["api"]
    problem(http.post(f"{ISSUERS}/{name}/rules", json=push_rule("acme/web", name="api")), 409)
    assert http.delete(f"{ISSUERS}/{name}/rules/api").status_code == 204
    problem(http.delete(f"{ISSUERS}/{name}/rules/api"), 404)
    problem(http.post(f"{ISSUERS}/no-such-issuer/rules", json=push_rule("acme/api")), 404)


def test_audience_and_keys_can_be_changed(http: httpx.Client, name: str, issuer: OidcIssuer) -> None:
    assert http.post(ISSUERS, json=issuer_body(issuer, name)).status_code == 201
    changed = http.patch(f"{ISSUERS}/{name}", json={"audience": "registry.acme", "jwks": issuer.jwks()})
    assert changed.status_code == 200, changed.text
    assert changed.json()["audience"] == "registry.acme"
    assert changed.json()["jwks"] == issuer.jwks()
    cleared = http.patch(f"{ISSUERS}/{name}", json={"jwks": None})
    assert cleared.json()["jwks"] is None
    problem(http.patch(f"{ISSUERS}/{name}", json={"jwks_uri": "ftp://x"}), 422)


def test_a_preview_shows_what_sample_claims_would_get_and_why(
    http: httpx.Client, name: str, issuer: OidcIssuer
) -> None:
    rules = [
        push_rule("acme/api", name="api"),
        {
            "name": "own",
            "claims": {"repository_owner": "acme"},
            "repositories": ["ci/{repository}"],
            "actions": ["pull"],
        },
    ]
    assert http.post(ISSUERS, json=issuer_body(issuer, name, rules)).status_code == 201
    preview = http.post(f"{ISSUERS}/{name}/preview", json={"claims": issuer.claims("acme/web")})
    assert preview.status_code == 200, preview.text
    assert preview.json()["grants"] == [{"repository": "ci/acme/web", "actions": ["pull"]}]
    outcomes = {item["rule"]: item for item in preview.json()["rules"]}
    assert outcomes["own"]["matched"] is True
    assert outcomes["api"]["matched"] is False
    assert outcomes["api"]["reasons"] == ["repository does not match 'acme/api'"]


def test_the_openapi_document_describes_the_oidc_endpoints(http: httpx.Client) -> None:
    paths = http.get("/api/v1/openapi.json").json()["paths"]
    assert {"/api/v1/oidc/issuers", "/api/v1/oidc/issuers/{name}/rules", "/api/v1/oidc/exchange"} <= set(paths)
    body = paths["/api/v1/oidc/exchange"]["post"]["requestBody"]["content"]
    assert body["application/x-www-form-urlencoded"]["schema"]["required"] == ["subject_token"]
