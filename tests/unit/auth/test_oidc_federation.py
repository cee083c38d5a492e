"""The federation service and its credential verifier on a real (SQLite) metadata store and the loopback issuer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from moorage.auth.credentials import CredentialChain, CredentialExpired
from moorage.auth.grants import Grant, Principal
from moorage.auth.oidc_federation import NoRuleMatched, OidcFederation, UntrustedIssuer
from moorage.auth.oidc_keys import JwksCache
from moorage.auth.oidc_rules import ClaimRule
from moorage.auth.oidc_tokens import TrustedIssuer
from moorage.auth.oidc_verifier import OidcVerifier
from moorage.domain.access import Action, Actor
from moorage.metadata.database import Database, sqlite_url
from tests.support.oidc_issuer import AUDIENCE, OidcIssuer, running_issuer

PUSH = frozenset({Action.PULL, Action.PUSH})


@pytest.fixture
def issuer() -> Iterator[OidcIssuer]:
    with running_issuer() as running:
        yield running


@pytest.fixture
def federation(tmp_path: Path, issuer: OidcIssuer) -> Iterator[OidcFederation]:
    database = Database(sqlite_url(tmp_path))
    database.migrate()
    service = OidcFederation(database, JwksCache(timeout=2))
    rule = ClaimRule(
        "api", {"repository": "acme/api", "ref": "refs/heads/main"}, ("acme/api",), frozenset({Action.PUSH})
    )
    service.trust(TrustedIssuer("ci", issuer.url, AUDIENCE, rules=(rule,)))
    yield service
    database.dispose()


def test_an_id_token_as_password_yields_a_principal_with_exactly_the_rules_grants(
    federation: OidcFederation, issuer: OidcIssuer
) -> None:
    principal = OidcVerifier(federation).verify("anyone", issuer.mint(), "127.0.0.1")
    assert principal is not None
    assert principal.grants == (Grant("acme/api", PUSH),)
    assert principal.actor.kind == "oidc"
    assert principal.actor.name == "ci:repo:acme/api:ref:refs/heads/main"
    assert principal.actor.source_address == "127.0.0.1"


def test_secrets_that_are_not_ours_are_left_to_other_verifiers(federation: OidcFederation, issuer: OidcIssuer) -> None:
    verifier = OidcVerifier(federation)
    assert verifier.verify("admin", "hunter2", None) is None
    assert verifier.verify("admin", "a.b.c", None) is None
    with running_issuer() as stranger:
        assert verifier.verify("oidc", stranger.mint(), None) is None


def test_refused_id_tokens_are_not_principals(federation: OidcFederation, issuer: OidcIssuer) -> None:
    verifier = OidcVerifier(federation)
    assert verifier.verify("oidc", issuer.mint(issuer.claims(ref="refs/heads/dev")), None) is None
    assert verifier.verify("oidc", issuer.forge_unsigned(), None) is None
    assert verifier.verify("oidc", issuer.mint(aud="other"), None) is None


def test_an_expired_id_token_says_it_expired_through_the_chain(federation: OidcFederation, issuer: OidcIssuer) -> None:
    past = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    chain = CredentialChain([OidcVerifier(federation)])
    with pytest.raises(CredentialExpired, match="OIDC ID token expired"):
        chain.verify("oidc", issuer.mint(iat=past - 300, nbf=past - 300, exp=past), None)


def test_authenticate_distinguishes_untrusted_issuers_from_unmatched_claims(
    federation: OidcFederation, issuer: OidcIssuer
) -> None:
    with pytest.raises(NoRuleMatched, match="ref does not match"):
        federation.authenticate(issuer.mint(issuer.claims(ref="refs/tags/v1")))
    with running_issuer() as stranger, pytest.raises(UntrustedIssuer):
        federation.authenticate(stranger.mint())


def test_an_exchanged_credential_works_as_a_password_until_it_expires(
    federation: OidcFederation, issuer: OidcIssuer
) -> None:
    credential = federation.exchange(issuer.mint(), "127.0.0.1")
    verifier = OidcVerifier(federation)
    principal = verifier.verify("oidc", credential.secret, "127.0.0.1")
    assert principal is not None and principal.grants == (Grant("acme/api", PUSH),)
    assert principal.actor.credential == credential.id
    assert federation.still_valid(principal)
    assert verifier.verify("oidc", credential.secret + "x", None) is None

    federation.credential_lifetime = timedelta(seconds=-1)
    expired = federation.exchange(issuer.mint(), None)
    with pytest.raises(CredentialExpired, match="OIDC-exchanged credential expired"):
        verifier.verify("oidc", expired.secret, None)


def test_distrusting_the_issuer_revokes_its_exchanged_credentials(
    federation: OidcFederation, issuer: OidcIssuer
) -> None:
    credential = federation.exchange(issuer.mint(), None)
    principal = OidcVerifier(federation).verify("oidc", credential.secret, None)
    assert principal is not None
    federation.distrust("ci")
    assert OidcVerifier(federation).verify("oidc", credential.secret, None) is None
    assert not federation.still_valid(principal)


def test_credentials_derived_from_a_raw_id_token_do_not_outlive_it(
    federation: OidcFederation, issuer: OidcIssuer
) -> None:
    principal = OidcVerifier(federation).verify("oidc", issuer.mint(), None)
    assert principal is not None
    assert not federation.still_valid(principal)
    assert not federation.still_valid(Principal(Actor("user", "admin"), None))
