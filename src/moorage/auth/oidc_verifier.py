"""The `CredentialVerifier` of OIDC federation: an ID token or an exchanged credential as a login password.

`docker login -u oidc -p "$ID_TOKEN"` (any username) reaches this through the credential chain.
A secret is "ours" when it is an exchanged credential (`moorage_oidc_…`) or a JWT whose `iss` is a
trusted issuer; anything else is left to the other verifiers. A refusal is logged with its reason
(never the token), because "invalid credentials" alone is all the client is told.

Failed federated logins are rate-limited per issuer + subject of the token (unverified, so only
for counting), not per the username: every CI job logs in as `oidc`, and one job's bad tokens
must not lock out all the others.
"""

from __future__ import annotations

import logging

from moorage.auth.credentials import CredentialExpired
from moorage.auth.grants import Principal
from moorage.auth.oidc_federation import (
    CREDENTIAL_PREFIX,
    ExchangedCredentialExpired,
    IdTokenRejected,
    OidcFederation,
    UntrustedIssuer,
)
from moorage.auth.oidc_keys import KeysUnavailable
from moorage.auth.oidc_tokens import IdTokenExpired, peek

log = logging.getLogger(__name__)


class OidcVerifier:
    """Accepts ID tokens of trusted issuers (granted what their rules say) and exchanged credentials."""

    def __init__(self, federation: OidcFederation) -> None:
        self.federation = federation

    def rate_limit_subject(self, username: str, secret: str) -> str | None:
        """`oidc:ISSUER:SUBJECT` (or `oidc:ISSUER`) for an ID token, "" (the address alone) for an
        exchanged credential or an unreadable JWT, None for anything else."""
        if secret.startswith(CREDENTIAL_PREFIX):
            return ""  # 256 random bits: guessing is hopeless, and no subject can be read from it
        if secret.count(".") != 2:
            return None
        peeked = peek(secret)
        issuer = peeked[1].get("iss") if peeked else None
        if not isinstance(issuer, str):
            return ""
        subject = peeked[1].get("sub") if peeked else None
        return f"oidc:{issuer}:{subject}" if isinstance(subject, str) else f"oidc:{issuer}"

    def verify(self, username: str, secret: str, source_address: str | None) -> Principal | None:
        if secret.startswith(CREDENTIAL_PREFIX):
            try:
                return self.federation.credential_principal(secret, source_address)
            except ExchangedCredentialExpired as error:
                raise CredentialExpired("OIDC-exchanged credential", error.expired_at) from None
        if secret.count(".") != 2:
            return None
        try:
            return self.federation.principal(secret, source_address)
        except IdTokenExpired as error:
            raise CredentialExpired("OIDC ID token", error.expired_at) from None
        except UntrustedIssuer:
            return None
        except IdTokenRejected as error:
            log.warning("OIDC ID token refused (from %s): %s", source_address or "unknown address", error)
            return None
        except KeysUnavailable as error:
            log.error("OIDC ID token not checked: keys unavailable: %s", error)
            return None
