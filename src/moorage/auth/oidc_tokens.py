"""Checking an OIDC ID token against a trusted issuer: signature, algorithm, issuer, audience and lifetime.

Only asymmetric algorithms are accepted: `none` and the HMAC family (`HS256`, classically forged
by signing with the issuer's *public* key) are refused before any key is looked at. The key is
chosen by the token's `kid` from the issuer's JWKS (a set with a single key may omit `kid`), and a
key that declares its own `alg` must agree with the token's.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt

from moorage.auth.oidc_rules import ClaimRule

ALLOWED_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "sub")


@dataclass(frozen=True)
class TrustedIssuer:
    """An identity provider whose ID tokens the registry accepts, and the rules that give them rights."""

    name: str
    issuer: str
    """The exact `iss` of its tokens, e.g. https://token.actions.githubusercontent.com"""
    audience: str
    """The `aud` its tokens must carry for this registry (GitHub: `jobs.<id>.permissions` + `audience:`)."""
    jwks_uri: str | None = None
    """Where its keys are; None: found through the issuer's discovery document."""
    static_jwks: Mapping[str, Any] | None = None
    """Keys configured by hand (air-gapped sites); when set, nothing is fetched."""
    rules: tuple[ClaimRule, ...] = field(default=())
    id: int | None = None


class IdTokenRejected(Exception):
    """The ID token is not acceptable; the message says why without echoing the token."""


class IdTokenExpired(IdTokenRejected):
    def __init__(self, expired_at: datetime | None) -> None:
        when = f" at {expired_at.isoformat(timespec='seconds')}" if expired_at else ""
        super().__init__(f"the ID token expired{when}")
        self.expired_at = expired_at


def _b64_json(segment: str) -> Any:
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


def peek(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The unverified header and claims of something shaped like a JWT, else None (cheap; never trusted)."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 16384:
        return None
    try:
        header, claims = _b64_json(parts[0]), _b64_json(parts[1])
    except (ValueError, binascii.Error, UnicodeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict) or "alg" not in header:
        return None
    return header, claims


KeyLookup = Callable[[TrustedIssuer, str | None], Mapping[str, Any]]
"""Returns the issuer's JWKS; the second argument is the `kid` wanted (to trigger a refetch on rotation)."""


def _select_key(jwks: Mapping[str, Any], kid: str | None, alg: str) -> jwt.PyJWK:
    keys = [key for key in jwks.get("keys", []) if isinstance(key, dict) and key.get("kty") != "oct"]
    if kid is not None:
        keys = [key for key in keys if key.get("kid") == kid]
    elif len(keys) > 1:
        raise IdTokenRejected("the ID token has no kid and the issuer has several keys")
    keys = [key for key in keys if key.get("use", "sig") == "sig"]
    if not keys:
        raise IdTokenRejected("the ID token is signed with a key the issuer does not publish")
    key = keys[0]
    if key.get("alg") not in (None, alg):
        raise IdTokenRejected(f"the token's algorithm {alg} does not match its key's")
    try:
        return jwt.PyJWK(key, algorithm=alg)
    except jwt.PyJWTError:
        raise IdTokenRejected(f"the issuer's key {kid or ''} cannot verify {alg}".replace("  ", " ")) from None


def verify_id_token(
    token: str,
    issuer: TrustedIssuer,
    keys: KeyLookup,
    leeway: float = 60.0,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """The verified claims of an ID token from `issuer`, or `IdTokenRejected` saying what is wrong."""
    peeked = peek(token)
    if peeked is None:
        raise IdTokenRejected("not a JWT")
    header, unverified = peeked
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        raise IdTokenRejected(f"algorithm {alg!r} is not accepted; ID tokens must be signed asymmetrically")
    if unverified.get("iss") != issuer.issuer:
        raise IdTokenRejected("the ID token is from another issuer")
    kid = header.get("kid") if isinstance(header.get("kid"), str) else None
    key = _select_key(keys(issuer, kid), kid, alg)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=issuer.audience,
            issuer=issuer.issuer,
            leeway=leeway,
            options={"require": list(REQUIRED_CLAIMS), "verify_iat": True},
        )
    except jwt.ExpiredSignatureError:
        raise IdTokenExpired(_timestamp(unverified.get("exp"))) from None
    except jwt.ImmatureSignatureError:
        raise IdTokenRejected("the ID token is not valid yet (nbf or iat in the future)") from None
    except jwt.InvalidAudienceError:
        raise IdTokenRejected(f"the ID token's audience is not {issuer.audience!r}") from None
    except jwt.InvalidIssuerError:
        raise IdTokenRejected("the ID token is from another issuer") from None
    except jwt.MissingRequiredClaimError as error:
        raise IdTokenRejected(f"the ID token has no {error.claim!r} claim") from None
    except jwt.InvalidSignatureError:
        raise IdTokenRejected("the ID token's signature is not valid") from None
    except jwt.PyJWTError as error:
        raise IdTokenRejected(f"the ID token is not valid ({type(error).__name__})") from None
    iat = _timestamp(claims.get("iat"))
    if iat is not None and iat.timestamp() > now().timestamp() + leeway:
        raise IdTokenRejected("the ID token is not valid yet (nbf or iat in the future)")
    return claims


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None
