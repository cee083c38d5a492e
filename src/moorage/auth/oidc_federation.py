"""OIDC federation for CI: trusting issuers, turning their ID tokens into principals, and exchanging them.

A CI job (GitHub Actions, GitLab CI, ...) holds a short-lived ID token signed by its platform. The
registry trusts the platform's issuer (URL + audience + keys) and its claim rules decide what the
job may do, so no long-lived registry secret ever sits in CI. The job either uses the ID token
directly as the password at `docker login`, or exchanges it (RFC 8693 token exchange) for a
registry credential of its own lifetime that carries exactly the grants the rules gave.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from moorage.auth.grants import Grant, Principal, expand_actions, granted_actions
from moorage.auth.oidc_keys import JwksCache, check_issuer_url, check_jwks
from moorage.auth.oidc_rules import ClaimRule, InvalidRule, RuleDecision, evaluate
from moorage.auth.oidc_tokens import IdTokenRejected, TrustedIssuer, peek, verify_id_token
from moorage.domain.access import Action, Actor
from moorage.metadata import oidc_issuers as store
from moorage.metadata.database import Database

log = logging.getLogger(__name__)

_ISSUER_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

CREDENTIAL_PREFIX = "moorage_oidc_"
"""Exchanged credentials start with this, so verifiers and secret scanners recognise them."""
CREDENTIAL_USERNAME = "oidc"
"""The username that goes with an exchanged credential (any username is accepted with an ID token)."""
KEEP_EXPIRED = timedelta(days=1)
"""How long an expired credential is remembered, to answer "expired" rather than "invalid"."""


class UntrustedIssuer(IdTokenRejected):
    """The token's issuer is not one the registry trusts."""


class NoRuleMatched(IdTokenRejected):
    """The token is genuine but no rule grants its claims anything."""


class ExchangedCredentialExpired(Exception):
    """An exchanged credential that was genuine but has expired (the client is told so)."""

    def __init__(self, expired_at: datetime) -> None:
        super().__init__(f"the OIDC-exchanged credential expired at {expired_at.isoformat(timespec='seconds')}")
        self.expired_at = expired_at


class IssuerNotFound(LookupError):
    pass


class DuplicateName(ValueError):
    pass


@dataclass(frozen=True)
class FederatedIdentity:
    """A verified ID token: its issuer, claims, and what the issuer's rules grant it."""

    issuer: TrustedIssuer
    claims: Mapping[str, Any]
    decision: RuleDecision

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])

    def actor(self, credential: str | None, source_address: str | None) -> Actor:
        return Actor("oidc", f"{self.issuer.name}:{self.subject}", credential, source_address)


@dataclass(frozen=True)
class ExchangedCredential:
    """A registry credential issued for an ID token; `secret` is shown once and stored only as a hash."""

    id: str
    username: str
    secret: str
    subject: str
    grants: tuple[Grant, ...]
    expires_at: datetime


def narrow(grants: tuple[Grant, ...], requested: Sequence[Grant]) -> tuple[Grant, ...]:
    """Grants on exactly the requested repositories, each limited to the requested and granted actions."""
    result: list[Grant] = []
    for wanted in requested:
        actions = granted_actions(grants, wanted.repository_pattern) & expand_actions(wanted.actions)
        if actions:
            result.append(Grant(wanted.repository_pattern, frozenset(actions)))
    return tuple(result)


def _hash(secret: str) -> str:
    # The secret is 256 random bits, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(secret.encode()).hexdigest()


def grants_to_json(grants: tuple[Grant, ...]) -> list[dict[str, Any]]:
    return [{"repository": g.repository_pattern, "actions": sorted(g.actions)} for g in grants]


def grants_from_json(rows: Any) -> tuple[Grant, ...]:
    return tuple(Grant(row["repository"], frozenset(Action(a) for a in row["actions"])) for row in rows)


def _rule_from_row(row: Mapping[str, Any]) -> ClaimRule:
    return ClaimRule(
        name=row["name"],
        claims=dict(row["claims"]),
        repositories=tuple(row["repositories"]),
        actions=frozenset(Action(a) for a in row["actions"]),
        id=row["id"],
    )


def _issuer_from_row(row: Mapping[str, Any], rules: list[Mapping[str, Any]]) -> TrustedIssuer:
    return TrustedIssuer(
        name=row["name"],
        issuer=row["issuer"],
        audience=row["audience"],
        jwks_uri=row["jwks_uri"],
        static_jwks=row["static_jwks"],
        rules=tuple(_rule_from_row(rule) for rule in rules),
        id=row["id"],
    )


def check_issuer(issuer: TrustedIssuer) -> TrustedIssuer:
    """Refuse settings under which no token could be verified safely; raises ValueError."""
    if not _ISSUER_NAME.fullmatch(issuer.name):
        raise ValueError("an issuer name is 1 to 64 letters, digits, '-' or '_'")
    check_issuer_url(issuer.issuer)
    if not issuer.audience or len(issuer.audience) > 255:
        raise ValueError("an audience of 1 to 255 characters is required")
    if issuer.jwks_uri is not None:
        check_issuer_url(issuer.jwks_uri)
    if issuer.static_jwks is not None:
        check_jwks(issuer.static_jwks)
    return issuer


class OidcFederation:
    """Trusted issuers and their rules (in the metadata store), ID token checks, and token exchange."""

    def __init__(
        self,
        database: Database,
        keys: JwksCache,
        leeway: float = 60.0,
        credential_lifetime: timedelta = timedelta(hours=1),
    ) -> None:
        self.database = database
        self.keys = keys
        self.leeway = leeway
        self.credential_lifetime = credential_lifetime

    # --- trusting issuers ----------------------------------------------------------------

    def issuers(self) -> list[TrustedIssuer]:
        with self.database.read() as connection:
            return [
                _issuer_from_row(row, store.list_rules(connection, row["id"])) for row in store.list_issuers(connection)
            ]

    def issuer(self, name: str) -> TrustedIssuer:
        with self.database.read() as connection:
            row = store.find_issuer(connection, name=name)
            if row is None:
                raise IssuerNotFound(f"no trusted issuer named {name!r}")
            return _issuer_from_row(row, store.list_rules(connection, row["id"]))

    def trust(self, issuer: TrustedIssuer) -> TrustedIssuer:
        """Start trusting an issuer (its rules, if any, are added too)."""
        check_issuer(issuer)
        values = {
            "name": issuer.name,
            "issuer": issuer.issuer,
            "audience": issuer.audience,
            "jwks_uri": issuer.jwks_uri,
            "static_jwks": dict(issuer.static_jwks) if issuer.static_jwks is not None else None,
        }
        with self.database.write() as connection:
            try:
                issuer_id = store.create_issuer(connection, values)
                for rule in issuer.rules:
                    store.create_rule(connection, issuer_id, _rule_values(rule))
            except store.DuplicateName as error:
                raise DuplicateName(str(error)) from None
        return self.issuer(issuer.name)

    def update(self, name: str, **changes: Any) -> TrustedIssuer:
        """Change an issuer's audience, jwks_uri or static_jwks; cached keys are dropped."""
        current = self.issuer(name)
        check_issuer(replace(current, **changes))
        with self.database.write() as connection:
            store.update_issuer(
                connection,
                current.id or 0,
                {key: (dict(value) if isinstance(value, Mapping) else value) for key, value in changes.items()},
            )
        self.keys.forget(current.issuer)
        return self.issuer(name)

    def distrust(self, name: str) -> None:
        """Stop trusting an issuer: its rules go, and every credential exchanged through it is revoked."""
        current = self.issuer(name)
        with self.database.write() as connection:
            store.delete_issuer(connection, current.id or 0)
        self.keys.forget(current.issuer)

    def add_rule(self, issuer_name: str, rule: ClaimRule) -> TrustedIssuer:
        current = self.issuer(issuer_name)
        with self.database.write() as connection:
            try:
                store.create_rule(connection, current.id or 0, _rule_values(rule))
            except store.DuplicateName as error:
                raise DuplicateName(str(error)) from None
        return self.issuer(issuer_name)

    def remove_rule(self, issuer_name: str, rule_name: str) -> None:
        current = self.issuer(issuer_name)
        with self.database.write() as connection:
            if not store.delete_rule(connection, current.id or 0, rule_name):
                raise IssuerNotFound(f"issuer {issuer_name!r} has no rule named {rule_name!r}")

    def preview(self, issuer_name: str, claims: Mapping[str, Any]) -> RuleDecision:
        """What the issuer's rules would grant a token with these claims (a dry run; nothing is verified)."""
        return evaluate(self.issuer(issuer_name).rules, claims)

    # --- authenticating ID tokens --------------------------------------------------------

    def trusted_issuer_of(self, token: str) -> TrustedIssuer | None:
        """The trusted issuer a JWT claims to come from (unverified), or None if it is not a JWT or not trusted."""
        peeked = peek(token)
        if peeked is None or not isinstance(peeked[1].get("iss"), str):
            return None
        with self.database.read() as connection:
            row = store.find_issuer(connection, issuer=peeked[1]["iss"])
            if row is None:
                return None
            return _issuer_from_row(row, store.list_rules(connection, row["id"]))

    def authenticate(self, token: str) -> FederatedIdentity:
        """Verify an ID token and apply its issuer's rules; raises `IdTokenRejected` (or a subclass)."""
        issuer = self.trusted_issuer_of(token)
        if issuer is None:
            raise UntrustedIssuer("the ID token is not from a trusted issuer" if peek(token) else "not a JWT")
        claims = verify_id_token(token, issuer, self._keys, leeway=self.leeway)
        decision = evaluate(issuer.rules, claims)
        if not decision.grants:
            raise NoRuleMatched(f"no rule of issuer {issuer.name!r} grants this token anything: {decision.explain()}")
        return FederatedIdentity(issuer, claims, decision)

    def principal(self, token: str, source_address: str | None) -> Principal:
        identity = self.authenticate(token)
        jti = identity.claims.get("jti")
        actor = identity.actor(f"id-token {jti}" if isinstance(jti, str) else "id-token", source_address)
        expires = identity.claims.get("exp")
        expires_at = datetime.fromtimestamp(expires, UTC) if isinstance(expires, int | float) else None
        return Principal(actor, identity.decision.grants, expires_at=expires_at)

    def _keys(self, issuer: TrustedIssuer, kid: str | None) -> Mapping[str, Any]:
        if issuer.static_jwks is not None:
            return issuer.static_jwks
        return self.keys.keys(issuer.issuer, issuer.jwks_uri, kid)

    # --- exchanged credentials -----------------------------------------------------------

    def exchange(
        self, token: str, source_address: str | None, requested: Sequence[Grant] | None = None
    ) -> ExchangedCredential:
        """Swap a valid ID token for a registry credential carrying the grants its rules give.

        With `requested` (the RFC 8693 `scope`: exact repositories and actions), the credential
        carries only what was both requested and granted; `NoRuleMatched` if that is nothing.
        """
        identity = self.authenticate(token)
        grants = identity.decision.grants
        if requested is not None:
            grants = narrow(grants, requested)
            if not grants:
                raise NoRuleMatched("the rules grant none of the requested scope")
        credential_id = secrets.token_hex(8)
        secret = f"{CREDENTIAL_PREFIX}{secrets.token_urlsafe(32)}"
        issued_at = datetime.now(UTC)
        expires_at = issued_at + self.credential_lifetime
        with self.database.write() as connection:
            store.purge_credentials(connection, issued_at - KEEP_EXPIRED)
            store.record_credential(
                connection,
                {
                    "id": credential_id,
                    "secret_hash": _hash(secret),
                    "issuer_id": identity.issuer.id,
                    "subject": identity.subject[:512],
                    "grants": grants_to_json(grants),
                    "source_address": (source_address or "")[:64] or None,
                    "expires_at": expires_at,
                },
            )
        log.info(
            "OIDC token exchange: issuer %s subject %s got credential %s (rules: %s)",
            identity.issuer.name, identity.subject, credential_id, ", ".join(identity.decision.matched_rules),
        )  # fmt: skip
        return ExchangedCredential(credential_id, CREDENTIAL_USERNAME, secret, identity.subject, grants, expires_at)

    def credential_principal(self, secret: str, source_address: str | None) -> Principal | None:
        """The principal of an exchanged credential; None if unknown; `ExchangedCredentialExpired` if expired."""
        with self.database.read() as connection:
            row = store.find_credential(connection, _hash(secret))
        if row is None:
            return None
        expires_at = _aware(row["expires_at"])
        if expires_at <= datetime.now(UTC):
            raise ExchangedCredentialExpired(expires_at)
        actor = Actor("oidc", f"{row['issuer_name']}:{row['subject']}", row["id"], source_address)
        return Principal(actor, grants_from_json(row["grants"]), expires_at=expires_at)

    def still_valid(self, principal: Principal) -> bool:
        """Whether a signed credential derived from an OIDC principal (a refresh token, a login password) may act.

        Only exchanged credentials qualify, and only while they exist and have not expired: an ID
        token's rights must not outlive the ID token, nor an issuer's removal.
        """
        credential = principal.actor.credential
        if principal.actor.kind != "oidc" or not credential or credential.startswith("id-token"):
            return False
        with self.database.read() as connection:
            expires_at = store.credential_expiry(connection, credential)
        return expires_at is not None and _aware(expires_at) > datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _rule_values(rule: ClaimRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "claims": dict(rule.claims),
        "repositories": list(rule.repositories),
        "actions": sorted(rule.actions),
    }


__all__ = [
    "CREDENTIAL_PREFIX",
    "ClaimRule",
    "DuplicateName",
    "ExchangedCredential",
    "ExchangedCredentialExpired",
    "FederatedIdentity",
    "IdTokenRejected",
    "InvalidRule",
    "IssuerNotFound",
    "NoRuleMatched",
    "OidcFederation",
    "TrustedIssuer",
    "UntrustedIssuer",
]
