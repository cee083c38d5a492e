"""The `CredentialVerifier` of OIDC federation: an ID token or an exchanged credential as a login password.

`docker login -u oidc -p "$ID_TOKEN"` (any username) reaches this through the credential chain.
A secret is "ours" when it is an exchanged credential (`moorage_oidc_…`) or a JWT whose `iss` is a
trusted issuer; anything else is left to the other verifiers. A refusal is logged with its reason
(never the token), because "invalid credentials" alone is all the client is told.
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
from moorage.auth.oidc_tokens import IdTokenExpired

log = logging.getLogger(__name__)


class OidcVerifier:
    """Accepts ID tokens of trusted issuers (granted what their rules say) and exchanged credentials."""

    def __init__(self, federation: OidcFederation) -> None:
        self.federation = federation

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
