"""ID token checks against a trusted issuer, with the loopback test issuer signing real tokens."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pytest

from moorage.auth.oidc_tokens import IdTokenExpired, IdTokenRejected, TrustedIssuer, peek, verify_id_token
from tests.support.oidc_issuer import AUDIENCE, OidcIssuer, SigningKey

ISSUER_URL = "https://token.actions.example"


@pytest.fixture
def issuer() -> OidcIssuer:
    return OidcIssuer(url=ISSUER_URL)


def trusted(issuer: OidcIssuer, **changes: Any) -> TrustedIssuer:
    return TrustedIssuer(**{"name": "ci", "issuer": issuer.url, "audience": AUDIENCE, **changes})


def keys_of(issuer: OidcIssuer):  # type: ignore[no-untyped-def]
    def lookup(_trusted: TrustedIssuer, _kid: str | None) -> Mapping[str, Any]:
        return issuer.jwks()

    return lookup


def verify(issuer: OidcIssuer, token: str, **changes: Any) -> dict[str, Any]:
    return verify_id_token(token, trusted(issuer, **changes), keys_of(issuer), leeway=30)


def rejected(issuer: OidcIssuer, token: str, **changes: Any) -> str:
    with pytest.raises(IdTokenRejected) as caught:
        verify(issuer, token, **changes)
    return str(caught.value)


def test_a_token_from_the_trusted_issuer_is_accepted(issuer: OidcIssuer) -> None:
    claims = verify(issuer, issuer.mint())
    assert claims["repository"] == "acme/api"
    assert claims["sub"] == "repo:acme/api:ref:refs/heads/main"


def test_an_ec_signed_token_is_accepted(issuer: OidcIssuer) -> None:
    issuer.keys.append(SigningKey.ec())
    assert verify(issuer, issuer.mint())["iss"] == ISSUER_URL


def test_alg_none_is_refused(issuer: OidcIssuer) -> None:
    assert "'none' is not accepted" in rejected(issuer, issuer.forge_unsigned())


def test_hs256_keyed_with_the_public_key_is_refused(issuer: OidcIssuer) -> None:
    assert "'HS256' is not accepted" in rejected(issuer, issuer.forge_hs256_with_public_key())


def test_a_token_signed_by_another_key_with_the_same_kid_is_refused(issuer: OidcIssuer) -> None:
    impostor = SigningKey.rsa(kid=issuer.key.kid)
    assert "signature is not valid" in rejected(issuer, issuer.mint(key=impostor))


def test_a_token_signed_by_an_unpublished_key_is_refused(issuer: OidcIssuer) -> None:
    assert "does not publish" in rejected(issuer, issuer.mint(key=SigningKey.rsa()))


def test_a_tampered_payload_is_refused(issuer: OidcIssuer) -> None:
    header, _, signature = issuer.mint().split(".")
    other_payload = issuer.mint(issuer.claims(repository="acme/secret")).split(".")[1]
    assert "signature is not valid" in rejected(issuer, f"{header}.{other_payload}.{signature}")


def test_wrong_audience_is_refused(issuer: OidcIssuer) -> None:
    assert "audience" in rejected(issuer, issuer.mint(aud="someone-else"))


def test_one_of_several_audiences_is_enough(issuer: OidcIssuer) -> None:
    assert verify(issuer, issuer.mint(aud=["sts.amazonaws.com", AUDIENCE]))


def test_wrong_issuer_is_refused(issuer: OidcIssuer) -> None:
    assert "another issuer" in rejected(issuer, issuer.mint(iss="https://evil.example"))


def test_an_expired_token_is_refused_and_says_so(issuer: OidcIssuer) -> None:
    now = int(time.time())
    with pytest.raises(IdTokenExpired) as caught:
        verify(issuer, issuer.mint(iat=now - 900, nbf=now - 900, exp=now - 600))
    assert caught.value.expired_at is not None
    assert "expired at" in str(caught.value)


def test_expiry_within_the_clock_skew_is_tolerated(issuer: OidcIssuer) -> None:
    now = int(time.time())
    assert verify(issuer, issuer.mint(iat=now - 300, exp=now - 10))


def test_a_not_yet_valid_token_is_refused(issuer: OidcIssuer) -> None:
    now = int(time.time())
    assert "not valid yet" in rejected(issuer, issuer.mint(nbf=now + 600, exp=now + 900))
    assert "not valid yet" in rejected(issuer, issuer.mint(iat=now + 600, nbf=None, exp=now + 900))


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "aud"])
def test_a_token_without_a_required_claim_is_refused(issuer: OidcIssuer, claim: str) -> None:
    rejected(issuer, issuer.mint(**{claim: None}))


def test_a_key_that_declares_another_algorithm_is_not_used(issuer: OidcIssuer) -> None:
    token = issuer.mint()
    jwks = issuer.jwks()
    jwks["keys"][0]["alg"] = "RS512"

    def lookup(_trusted: TrustedIssuer, _kid: str | None) -> Mapping[str, Any]:
        return jwks

    with pytest.raises(IdTokenRejected, match="does not match"):
        verify_id_token(token, trusted(issuer), lookup)


def test_static_keys_in_pem_free_jwks_form_are_enough(issuer: OidcIssuer) -> None:
    static = issuer.jwks()
    assert verify_id_token(issuer.mint(), trusted(issuer, static_jwks=static), lambda t, k: t.static_jwks or {})


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "a.b", "x" * 20000 + ".a.b", "eyJhbGciOiJSUzI1NiJ9.e30"])
def test_things_that_are_not_jwts_are_refused_without_errors(issuer: OidcIssuer, garbage: str) -> None:
    assert "not a JWT" in rejected(issuer, garbage)


def test_peek_reads_claims_without_trusting_them(issuer: OidcIssuer) -> None:
    peeked = peek(issuer.forge_unsigned())
    assert peeked is not None and peeked[0]["alg"] == "none"
