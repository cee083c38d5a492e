"""An ID token or exchanged credential at the Docker token endpoint, on a registry with authentication on.

What `docker login -u oidc -p $ID_TOKEN` and the clients after it do: `GET /token` with HTTP Basic
(and `offline_token=true`), then `/v2/` with the bearer token. The rights must be exactly what the
rules grant, and nothing derived from an OIDC credential may outlive it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.auth import ADMIN, ADMIN_PASSWORD, claims_of, fetch_token
from tests.support.oidc_issuer import OidcIssuer, exchange_form, issuer_body, running_issuer
from tests.support.server import RunningRegistry, start_server

RULES = [
    {
        "name": "own-repository",
        "claims": {"repository_owner": "acme", "ref": "refs/heads/main"},
        "repositories": ["ci/{repository}"],
        "actions": ["push"],
    },
    {"name": "base", "claims": {"repository_owner": "acme"}, "repositories": ["base/*"], "actions": ["pull"]},
]


@pytest.fixture(scope="module")
def issuer() -> Iterator[OidcIssuer]:
    with running_issuer() as running:
        yield running


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, issuer: OidcIssuer) -> Iterator[RunningRegistry]:
    settings = {"auth_enabled": "true", "admin_username": ADMIN, "admin_password": ADMIN_PASSWORD}
    with start_server(tmp_path_factory.mktemp("oidc-secured"), **settings) as server:
        response = httpx.post(
            f"{server.url}/api/v1/oidc/issuers", json=issuer_body(issuer, "github", RULES), auth=(ADMIN, ADMIN_PASSWORD)
        )
        assert response.status_code == 201, response.text
        yield server


@pytest.fixture
def app() -> str:
    return f"acme/app-{uuid.uuid4().hex[:8]}"


def access(token: str) -> dict[str, list[str]]:
    return {entry["name"]: sorted(entry["actions"]) for entry in claims_of(token)["access"]}


def test_managing_issuers_needs_a_registry_administrator(
    secured: RunningRegistry, issuer: OidcIssuer, app: str
) -> None:
    url = f"{secured.url}/api/v1/oidc/issuers"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, auth=(ADMIN, "wrong")).status_code == 401
    token = issuer.mint(issuer.claims(repository=app))
    assert httpx.get(url, auth=("oidc", token)).status_code == 403
    assert httpx.get(url, auth=(ADMIN, ADMIN_PASSWORD)).status_code == 200


def test_the_exchange_needs_no_other_credential(secured: RunningRegistry, issuer: OidcIssuer, app: str) -> None:
    response = httpx.post(
        f"{secured.url}/api/v1/oidc/exchange", data=exchange_form(issuer.mint(issuer.claims(repository=app)))
    )
    assert response.status_code == 200, response.text


def test_an_id_token_as_password_gets_exactly_the_rules_grants(
    secured: RunningRegistry, issuer: OidcIssuer, app: str
) -> None:
    token = issuer.mint(issuer.claims(repository=app))
    response = fetch_token(
        secured.url,
        ("oidc", token),
        f"repository:ci/{app}:pull,push",
        "repository:base/runtime:pull,push",
        "repository:ci/acme/other:pull,push",
        offline_token="true",
        client_id="docker",
    )
    assert response.status_code == 200, response.text
    assert access(response.json()["token"]) == {
        f"ci/{app}": ["pull", "push"],
        "base/runtime": ["pull"],
        "ci/acme/other": [],
    }
    assert "refresh_token" not in response.json()  # it would outlive the ID token; docker keeps the token instead


def test_the_bearer_token_opens_only_the_granted_repository(
    secured: RunningRegistry, issuer: OidcIssuer, app: str
) -> None:
    token = issuer.mint(issuer.claims(repository=app))
    bearer = fetch_token(secured.url, ("oidc", token), f"repository:ci/{app}:pull,push").json()["token"]
    headers = {"Authorization": f"Bearer {bearer}"}
    started = httpx.post(f"{secured.url}/v2/ci/{app}/blobs/uploads/", headers=headers)
    assert started.status_code == 202, started.text
    other = httpx.post(f"{secured.url}/v2/ci/acme/other/blobs/uploads/", headers=headers)
    assert other.status_code in (401, 403)


def test_a_refused_id_token_gets_no_registry_token(secured: RunningRegistry, issuer: OidcIssuer, app: str) -> None:
    now = int(time.time())
    cases = {
        "other branch": issuer.mint(issuer.claims(repository=app, ref="refs/heads/dev")),
        "other audience": issuer.mint(issuer.claims(repository=app), aud="someone-else"),
        "unsigned": issuer.forge_unsigned(issuer.claims(repository=app)),
        "hs256": issuer.forge_hs256_with_public_key(issuer.claims(repository=app)),
    }
    for case, token in cases.items():
        response = fetch_token(secured.url, ("oidc", token), "repository:base/runtime:pull")
        if case == "other branch":
            # still trusted, and the base rule does not look at the branch: pull base only
            assert response.status_code == 200 and access(response.json()["token"]) == {"base/runtime": ["pull"]}
            continue
        assert response.status_code == 401, case
    expired = issuer.mint(issuer.claims(repository=app, iat=now - 900, nbf=now - 900, exp=now - 600))
    response = fetch_token(secured.url, ("oidc", expired), f"repository:ci/{app}:pull")
    assert response.status_code == 401
    assert "expired" in response.text


def test_signed_credentials_derived_from_an_id_token_do_not_outlive_it(
    secured: RunningRegistry, issuer: OidcIssuer, app: str
) -> None:
    token = issuer.mint(issuer.claims(repository=app))
    response = httpx.post(f"{secured.url}/api/v1/login-password", auth=("oidc", token), json={})
    if response.status_code == 200:
        login = response.json()
        used = fetch_token(secured.url, (login["username"], login["password"]), f"repository:ci/{app}:pull")
        assert used.status_code == 401
    else:
        assert response.status_code in (401, 403)


def test_credentials_derived_from_an_exchanged_credential_end_with_its_issuer(
    secured: RunningRegistry, app: str
) -> None:
    with running_issuer() as other:
        admin = (ADMIN, ADMIN_PASSWORD)
        name = f"gitlab-{uuid.uuid4().hex[:6]}"
        assert (
            httpx.post(
                f"{secured.url}/api/v1/oidc/issuers", json=issuer_body(other, name, RULES), auth=admin
            ).status_code
            == 201
        )
        exchanged = httpx.post(
            f"{secured.url}/api/v1/oidc/exchange", data=exchange_form(other.mint(other.claims(repository=app)))
        ).json()
        creds = (exchanged["username"], exchanged["password"])
        first = fetch_token(secured.url, creds, f"repository:ci/{app}:pull,push", offline_token="true")
        assert first.status_code == 200 and access(first.json()["token"]) == {f"ci/{app}": ["pull", "push"]}
        assert "refresh_token" not in first.json()
        login = httpx.post(f"{secured.url}/api/v1/login-password", auth=creds, json={})

        assert httpx.delete(f"{secured.url}/api/v1/oidc/issuers/{name}", auth=admin).status_code == 204
        assert fetch_token(secured.url, creds, f"repository:ci/{app}:pull").status_code == 401
        if login.status_code == 200:
            login_creds = (login.json()["username"], login.json()["password"])
            assert fetch_token(secured.url, login_creds, f"repository:ci/{app}:pull").status_code == 401


def test_the_issuers_cli_logs_in_as_an_administrator(secured: RunningRegistry) -> None:
    from typer.testing import CliRunner

    from moorage.cli.main import app as cli

    runner = CliRunner()
    anonymous = runner.invoke(cli, ["issuers", "list", "--url", secured.url])
    assert anonymous.exit_code == 1 and "401" in anonymous.output
    env = {"MOORAGE_USERNAME": ADMIN, "MOORAGE_PASSWORD": ADMIN_PASSWORD}
    listed = runner.invoke(cli, ["issuers", "list", "--url", secured.url, "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "github" in [issuer["name"] for issuer in json.loads(listed.output)]


def test_the_oauth2_password_grant_takes_an_id_token_too(
    secured: RunningRegistry, issuer: OidcIssuer, app: str
) -> None:
    form = {
        "grant_type": "password",
        "username": "oidc",
        "password": issuer.mint(issuer.claims(repository=app)),
        "service": "moorage",
        "client_id": "containerd",
        "access_type": "offline",
        "scope": f"repository:ci/{app}:pull,push",
    }
    response = httpx.post(f"{secured.url}/token", data=form)
    assert response.status_code == 200, response.text
    assert access(response.json()["access_token"]) == {f"ci/{app}": ["pull", "push"]}
    assert "refresh_token" not in response.json()
