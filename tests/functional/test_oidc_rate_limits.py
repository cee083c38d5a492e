"""Bad federated logins are counted per issuer + subject and per address, never per the shared username.

Every CI job logs in as `oidc` with its own ID token. If failures counted against that username,
one broken (or hostile) job sending bad tokens would lock every other job out for the window.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.auth import ADMIN, ADMIN_PASSWORD, fetch_token
from tests.support.oidc_issuer import OidcIssuer, SigningKey, issuer_body, running_issuer
from tests.support.server import RunningRegistry, start_server

RULES = [{"name": "base", "claims": {"repository_owner": "acme"}, "repositories": ["base/*"], "actions": ["pull"]}]
PER_USER = 3


@pytest.fixture(scope="module")
def issuer() -> Iterator[OidcIssuer]:
    with running_issuer() as running:
        yield running


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, issuer: OidcIssuer) -> Iterator[RunningRegistry]:
    settings = {
        "auth_enabled": "true",
        "admin_username": ADMIN,
        "admin_password": ADMIN_PASSWORD,
        "login_failures_per_user": str(PER_USER),
        "login_failures_per_address": "1000",
    }
    with start_server(tmp_path_factory.mktemp("oidc-limited"), **settings) as server:
        response = httpx.post(
            f"{server.url}/api/v1/oidc/issuers", json=issuer_body(issuer, "github", RULES), auth=(ADMIN, ADMIN_PASSWORD)
        )
        assert response.status_code == 201, response.text
        yield server


def test_bad_id_tokens_of_one_job_do_not_lock_out_other_jobs(limited: RunningRegistry, issuer: OidcIssuer) -> None:
    foreign = SigningKey.rsa()
    broken_job = issuer.claims(repository="acme/broken")
    for _ in range(PER_USER + 2):
        bad = issuer.mint(dict(broken_job), key=foreign)
        assert fetch_token(limited.url, ("oidc", bad), "repository:base/runtime:pull").status_code in (401, 429)
    for _ in range(PER_USER + 2):
        garbage = "eyJhbGciOiJub25lIn0.bm90LWpzb24.x"  # JWT-shaped, claims unreadable
        assert fetch_token(limited.url, ("oidc", garbage)).status_code in (401, 429)

    other_job = issuer.mint(issuer.claims(repository="acme/healthy"))
    response = fetch_token(limited.url, ("oidc", other_job), "repository:base/runtime:pull")
    assert response.status_code == 200, response.text
    with httpx.Client(base_url=f"{limited.url}/api/v1", auth=("oidc", other_job)) as client:
        assert client.get("/user").status_code == 200

    # The broken job itself is held back, even with a good token, until the window ends.
    good_for_broken = issuer.mint(dict(broken_job))
    assert fetch_token(limited.url, ("oidc", good_for_broken)).status_code == 429


def test_password_guessing_is_still_limited_per_user_name(limited: RunningRegistry, issuer: OidcIssuer) -> None:
    with httpx.Client(base_url=f"{limited.url}/api/v1", auth=(ADMIN, ADMIN_PASSWORD)) as admin:
        assert admin.post("/users", json={"name": "guessme", "password": "right-password"}).status_code == 201
    for _ in range(PER_USER):
        assert fetch_token(limited.url, ("guessme", "wrong-password")).status_code == 401
    assert fetch_token(limited.url, ("guessme", "right-password")).status_code == 429
