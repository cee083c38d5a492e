"""Trusted OIDC issuers and their claim rules (admin), and the token exchange CI jobs call (anyone with an ID token).

- `GET/POST /api/v1/oidc/issuers`, `GET/PATCH/DELETE /api/v1/oidc/issuers/{name}`
- `GET/POST /api/v1/oidc/issuers/{name}/rules`, `DELETE /api/v1/oidc/issuers/{name}/rules/{rule}`
- `POST /api/v1/oidc/issuers/{name}/preview`: what the rules would grant sample claims (dry run)
- `POST /api/v1/oidc/exchange`: RFC 8693 token exchange of an ID token for a registry credential
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

import anyio.to_thread
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from moorage.api.manage.audit_trail import record_change
from moorage.api.manage.problems import Problem
from moorage.api.manage.security import Caller, CallerDep
from moorage.auth.grants import Grant
from moorage.auth.oidc_federation import (
    DuplicateName,
    IdTokenRejected,
    IssuerNotFound,
    NoRuleMatched,
    OidcFederation,
    TrustedIssuer,
)
from moorage.auth.oidc_keys import KeysUnavailable
from moorage.auth.oidc_rules import ClaimRule, InvalidRule, RuleDecision
from moorage.auth.oidc_tokens import IdTokenExpired
from moorage.domain.access import Action
from moorage.domain.errors import RegistryError
from moorage.domain.references import validate_name

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
SUBJECT_TOKEN_TYPES = ("urn:ietf:params:oauth:token-type:id_token", "urn:ietf:params:oauth:token-type:jwt")
ISSUED_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"

router = APIRouter(prefix="/oidc", tags=["oidc"])


def federation(request: Request) -> OidcFederation:
    return request.app.state.oidc  # type: ignore[no-any-return]


async def administrator(caller: CallerDep) -> Caller:
    """Only registry administrators manage trust (everyone may when authentication is off)."""
    caller.require_server_admin()
    return caller


Federation = Annotated[OidcFederation, Depends(federation)]
Admin = Annotated[Caller, Depends(administrator)]


class RuleBody(BaseModel):
    name: str = Field(description="Unique within the issuer.", examples=["push-own-repository"])
    claims: dict[str, str] = Field(
        description="Claim conditions that must all hold: an exact value, or a glob (`*` any run, `?` one character).",
        examples=[{"repository_owner": "acme", "ref": "refs/heads/main"}],
    )
    repositories: list[str] = Field(
        description="Repository patterns granted (NAME, NAMESPACE/* or *); `{claim}` inserts a claim's value.",
        examples=[["ci/{repository}"]],
    )
    actions: list[Action] = Field(description="pull, push and/or delete (push and delete imply pull).")


class IssuerBody(BaseModel):
    name: str = Field(description="A short name, e.g. github.", examples=["github"])
    issuer: str = Field(
        description="The exact `iss` of the tokens.", examples=["https://token.actions.githubusercontent.com"]
    )
    audience: str = Field(description="The `aud` tokens must carry for this registry.", examples=["moorage"])
    jwks_uri: str | None = Field(None, description="Where the keys are; default: from the discovery document.")
    jwks: dict[str, Any] | None = Field(
        None, description="Static keys (a JWKS) for air-gapped sites; when set nothing is fetched."
    )
    rules: list[RuleBody] = Field(default_factory=list)


class IssuerPatch(BaseModel):
    audience: str | None = None
    jwks_uri: str | None = None
    jwks: dict[str, Any] | None = None


class PreviewBody(BaseModel):
    claims: dict[str, Any] = Field(description="Claims of a sample ID token.")


def _rule(body: RuleBody) -> ClaimRule:
    try:
        return ClaimRule(body.name, dict(body.claims), tuple(body.repositories), frozenset(body.actions))
    except InvalidRule as error:
        raise Problem(422, "Invalid rule", str(error)) from None


def describe(issuer: TrustedIssuer) -> dict[str, Any]:
    return {
        "name": issuer.name,
        "issuer": issuer.issuer,
        "audience": issuer.audience,
        "jwks_uri": issuer.jwks_uri,
        "jwks": issuer.static_jwks,
        "rules": [rule.describe() for rule in issuer.rules],
    }


def describe_decision(decision: RuleDecision) -> dict[str, Any]:
    return {
        "grants": [{"repository": g.repository_pattern, "actions": sorted(g.actions)} for g in decision.grants],
        "rules": [
            {"rule": o.rule, "matched": o.matched and bool(o.grants), "reasons": list(o.reasons)}
            for o in decision.outcomes
        ],
    }


async def _call(function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await anyio.to_thread.run_sync(lambda: function(*args, **kwargs))
    except IssuerNotFound as error:
        raise Problem(404, "Not found", str(error)) from None
    except DuplicateName as error:
        raise Problem(409, "Conflict", str(error)) from None
    except ValueError as error:
        raise Problem(422, "Invalid issuer", str(error)) from None


async def _record(request: Request, caller: Caller, action: str, name: str, before: Any, after: Any) -> None:
    """Trust changes go to the audit log with the issuer before and after (docs/governance.md)."""
    await anyio.to_thread.run_sync(lambda: record_change(request, caller, action, name, before, after))


async def _described(oidc: OidcFederation, name: str) -> dict[str, Any]:
    return describe(await _call(oidc.issuer, name))


@router.get("/issuers", summary="List trusted OIDC issuers and their rules")
async def list_issuers(oidc: Federation, _: Admin) -> list[dict[str, Any]]:
    return [describe(issuer) for issuer in await _call(oidc.issuers)]


@router.post("/issuers", status_code=201, summary="Trust an OIDC issuer")
async def trust_issuer(body: IssuerBody, oidc: Federation, caller: Admin, request: Request) -> dict[str, Any]:
    issuer = TrustedIssuer(
        name=body.name,
        issuer=body.issuer,
        audience=body.audience,
        jwks_uri=body.jwks_uri,
        static_jwks=body.jwks,
        rules=tuple(_rule(rule) for rule in body.rules),
    )
    after = describe(await _call(oidc.trust, issuer))
    await _record(request, caller, "issuer.trust", body.name, None, after)
    return after


@router.get("/issuers/{name}", summary="One trusted issuer")
async def get_issuer(name: str, oidc: Federation, _: Admin) -> dict[str, Any]:
    return describe(await _call(oidc.issuer, name))


@router.patch("/issuers/{name}", summary="Change an issuer's audience or keys")
async def update_issuer(
    name: str, body: IssuerPatch, oidc: Federation, caller: Admin, request: Request
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    fields = body.model_fields_set
    if "audience" in fields and body.audience is not None:
        changes["audience"] = body.audience
    if "jwks_uri" in fields:
        changes["jwks_uri"] = body.jwks_uri
    if "jwks" in fields:
        changes["static_jwks"] = body.jwks
    before = await _described(oidc, name)
    after = describe(await _call(oidc.update, name, **changes))
    await _record(request, caller, "issuer.update", name, before, after)
    return after


@router.delete("/issuers/{name}", status_code=204, summary="Stop trusting an issuer (revokes its credentials)")
async def distrust_issuer(name: str, oidc: Federation, caller: Admin, request: Request) -> Response:
    before = await _described(oidc, name)
    await _call(oidc.distrust, name)
    await _record(request, caller, "issuer.distrust", name, before, None)
    return Response(status_code=204)


@router.get("/issuers/{name}/rules", summary="The claim rules of an issuer")
async def list_rules(name: str, oidc: Federation, _: Admin) -> list[dict[str, Any]]:
    return describe(await _call(oidc.issuer, name))["rules"]  # type: ignore[no-any-return]


@router.post("/issuers/{name}/rules", status_code=201, summary="Add a claim rule")
async def add_rule(name: str, body: RuleBody, oidc: Federation, caller: Admin, request: Request) -> dict[str, Any]:
    before = await _described(oidc, name)
    after = describe(await _call(oidc.add_rule, name, _rule(body)))
    await _record(request, caller, "issuer.add-rule", name, {"rules": before["rules"]}, {"rules": after["rules"]})
    return after


@router.delete("/issuers/{name}/rules/{rule}", status_code=204, summary="Remove a claim rule")
async def remove_rule(name: str, rule: str, oidc: Federation, caller: Admin, request: Request) -> Response:
    before = await _described(oidc, name)
    await _call(oidc.remove_rule, name, rule)
    after = await _described(oidc, name)
    await _record(request, caller, "issuer.remove-rule", name, {"rules": before["rules"]}, {"rules": after["rules"]})
    return Response(status_code=204)


@router.post("/issuers/{name}/preview", summary="What the rules would grant a token with these claims")
async def preview(name: str, body: PreviewBody, oidc: Federation, _: Admin) -> dict[str, Any]:
    return describe_decision(await _call(oidc.preview, name, body.claims))


async def _exchange_parameters(request: Request) -> dict[str, str]:
    """RFC 8693 parameters, form-encoded (the standard) or as a JSON object."""
    body = await request.body()
    if len(body) > 65536:
        raise Problem(413, "Request too large", "the exchange request is larger than 64 KiB")
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == "application/json":
        try:
            parsed = json.loads(body)
        except ValueError:
            raise Problem(400, "Invalid request", "the body is not JSON", error="invalid_request") from None
        if not isinstance(parsed, dict):
            raise Problem(400, "Invalid request", "expected a JSON object", error="invalid_request")
        return {key: value for key, value in parsed.items() if isinstance(value, str)}
    form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {key: values[0] for key, values in form.items()}


_EXCHANGE_SCHEMA = {
    "type": "object",
    "required": ["subject_token"],
    "properties": {
        "grant_type": {"type": "string", "enum": [TOKEN_EXCHANGE]},
        "subject_token": {"type": "string", "description": "The CI job's OIDC ID token."},
        "subject_token_type": {"type": "string", "enum": list(SUBJECT_TOKEN_TYPES)},
        "scope": {"type": "string", "description": "Optional: repository:NAME:ACTIONS, space-separated."},
    },
}
_EXCHANGE_BODY = {
    "application/x-www-form-urlencoded": {"schema": _EXCHANGE_SCHEMA},
    "application/json": {"schema": _EXCHANGE_SCHEMA},
}


def _requested_scope(scope: str | None) -> list[Grant] | None:
    """The RFC 8693 `scope`: space-separated Docker scopes `repository:NAME:ACTION[,ACTION]`."""
    if scope is None or not scope.strip():
        return None
    requested = []
    for item in scope.split():
        kind, _, rest = item.partition(":")
        name, _, actions = rest.rpartition(":")
        try:
            if kind != "repository":
                raise ValueError
            validate_name(name)
            requested.append(Grant(name, frozenset(Action(a) for a in actions.split(",") if a)))
        except (ValueError, RegistryError):
            raise _oauth_problem(
                400, "invalid_scope", f"invalid scope {item!r}: expected repository:NAME:ACTIONS"
            ) from None
    return requested


def _oauth_problem(status: int, error: str, description: str) -> Problem:
    titles = {401: "Invalid ID token", 403: "Forbidden", 503: "Issuer unavailable"}
    title = titles.get(status, "Invalid request")
    return Problem(status, title, description, error=error, error_description=description)


@router.post(
    "/exchange",
    summary="Exchange a CI job's OIDC ID token for a short-lived registry credential (RFC 8693)",
    responses={
        401: {"description": "The ID token is invalid, expired or untrusted"},
        403: {"description": "No rule grants it anything"},
    },
    openapi_extra={"requestBody": {"required": True, "content": _EXCHANGE_BODY}},
)
async def exchange(request: Request, oidc: Federation) -> JSONResponse:
    """Form fields: `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`, `subject_token=<ID token>`,
    `subject_token_type=urn:ietf:params:oauth:token-type:id_token` (or `…:jwt`), and optionally
    `scope=repository:NAME:pull,push …` to receive less than the rules grant.

    The answer's `username` and `password` (also `access_token`) work at `docker login` until `expires_at`.
    """
    parameters = await _exchange_parameters(request)
    if parameters.get("grant_type", TOKEN_EXCHANGE) != TOKEN_EXCHANGE:
        raise _oauth_problem(400, "unsupported_grant_type", f"grant_type must be {TOKEN_EXCHANGE}")
    token = parameters.get("subject_token", "")
    if not token:
        raise _oauth_problem(400, "invalid_request", "subject_token (the OIDC ID token) is required")
    token_type = parameters.get("subject_token_type", SUBJECT_TOKEN_TYPES[0])
    if token_type not in SUBJECT_TOKEN_TYPES:
        raise _oauth_problem(
            400, "invalid_request", f"subject_token_type must be one of {', '.join(SUBJECT_TOKEN_TYPES)}"
        )
    requested = _requested_scope(parameters.get("scope"))
    source = request.client.host if request.client else None
    try:
        credential = await anyio.to_thread.run_sync(oidc.exchange, token, source, requested)
    except NoRuleMatched as error:
        raise _oauth_problem(403, "access_denied", str(error)) from None
    except IdTokenExpired as error:
        raise _oauth_problem(401, "invalid_grant", f"{error}; request a new ID token") from None
    except IdTokenRejected as error:
        raise _oauth_problem(401, "invalid_grant", str(error)) from None
    except KeysUnavailable:
        raise _oauth_problem(503, "temporarily_unavailable", "the issuer's keys cannot be fetched right now") from None
    expires_in = int((credential.expires_at - datetime.now(UTC)).total_seconds())
    body = {
        "access_token": credential.secret,
        "issued_token_type": ISSUED_TOKEN_TYPE,
        "token_type": "N_A",
        "expires_in": expires_in,
        "expires_at": credential.expires_at.isoformat(timespec="seconds"),
        "username": credential.username,
        "password": credential.secret,
        "subject": credential.subject,
        "grants": [{"repository": g.repository_pattern, "actions": sorted(g.actions)} for g in credential.grants],
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
