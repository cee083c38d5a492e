"""/api/v1/cache-rules: the pull-through cache's rules (registry admins only).

A rule claims a local namespace for an upstream registry, so only a registry admin manages rules;
the upstream password is write-only (stored encrypted, never returned: `has_credentials` says
whether one is set). The empty prefix, a transparent mirror, is addressed as `ROOT` in paths.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, SecretStr

from moorage.api.manage.problems import Problem
from moorage.api.manage.security import Caller, CallerDep
from moorage.domain.access import Actor
from moorage.proxy.rule_service import CacheRuleRow, CacheRules, NamespaceInUse, RuleChange, RuleExists, RuleNotFound
from moorage.proxy.rules import InvalidRule

router = APIRouter(tags=["pull-through cache"])
ROOT = "ROOT"


class CacheRuleIn(BaseModel):
    model_config = {"extra": "forbid"}

    prefix: str = Field(description="Local namespace (`docker-hub`); `ROOT` or empty: a transparent mirror.")
    upstream_url: str = Field(description="The upstream registry's root, e.g. `https://registry-1.docker.io`.")
    upstream_prefix: str | None = Field(None, description="A namespace upstream that local names are under.")
    username: str | None = Field(None, max_length=255)
    password: SecretStr | None = Field(None, description="Write-only: stored encrypted, never returned.")


class CacheRuleUpdate(BaseModel):
    model_config = {"extra": "forbid"}

    upstream_url: str | None = None
    upstream_prefix: str | None = None
    username: str | None = Field(None, max_length=255)
    password: SecretStr | None = Field(None, description="A new password (rotation); write-only.")
    clear_credentials: bool = Field(False, description="Remove the credentials: pull anonymously.")


class CacheRuleOut(BaseModel):
    prefix: str
    upstream_url: str
    upstream_prefix: str | None
    username: str | None
    has_credentials: bool
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: CacheRuleRow) -> CacheRuleOut:
        return cls(
            prefix=row.prefix or ROOT,
            upstream_url=row.upstream_url,
            upstream_prefix=row.upstream_prefix,
            username=row.username,
            has_credentials=row.password_encrypted is not None,
            created_by=row.created_by,
            created_at=row.created_at.astimezone(UTC),
            updated_at=row.updated_at.astimezone(UTC),
        )


def _rules(caller: Caller, request: Request) -> CacheRules:
    caller.require_server_admin()
    rules: CacheRules = request.app.state.cache_rules
    return rules


def _prefix(value: str) -> str:
    return "" if value in (ROOT, "") else value


def _actor(caller: Caller, request: Request) -> Actor:
    actor = caller.actor
    if actor.source_address is None and request.client is not None:
        actor = replace(actor, source_address=request.client.host)
    return actor


def _problem(error: Exception) -> Problem:
    if isinstance(error, RuleNotFound):
        return Problem(404, "Not Found", str(error))
    if isinstance(error, (RuleExists, NamespaceInUse)):
        return Problem(409, "Conflict", str(error))
    return Problem(400, "Bad Request", str(error))


_FAILURES = (RuleNotFound, RuleExists, NamespaceInUse, InvalidRule)


@router.get("/cache-rules", summary="Every pull-through cache rule (registry admins)")
def list_cache_rules(caller: CallerDep, request: Request) -> list[CacheRuleOut]:
    return [CacheRuleOut.of(row) for row in _rules(caller, request).list()]


@router.post("/cache-rules", status_code=201, summary="Cache an upstream registry under a prefix (registry admins)")
def create_cache_rule(body: CacheRuleIn, caller: CallerDep, request: Request) -> CacheRuleOut:
    rules = _rules(caller, request)
    password = body.password.get_secret_value() if body.password is not None else None
    try:
        row = rules.create(
            _actor(caller, request),
            _prefix(body.prefix),
            body.upstream_url,
            body.upstream_prefix,
            body.username,
            password,
        )
    except _FAILURES as error:
        raise _problem(error) from None
    return CacheRuleOut.of(row)


@router.get("/cache-rules/{prefix:path}", summary="One cache rule (registry admins)")
def get_cache_rule(prefix: str, caller: CallerDep, request: Request) -> CacheRuleOut:
    try:
        return CacheRuleOut.of(_rules(caller, request).get(_prefix(prefix)))
    except _FAILURES as error:
        raise _problem(error) from None


@router.put(
    "/cache-rules/{prefix:path}", summary="Change a rule's upstream or rotate its credentials (registry admins)"
)
def update_cache_rule(prefix: str, body: CacheRuleUpdate, caller: CallerDep, request: Request) -> CacheRuleOut:
    rules = _rules(caller, request)
    change = RuleChange(
        upstream_url=body.upstream_url,
        upstream_prefix=body.upstream_prefix,
        username=body.username,
        password=body.password.get_secret_value() if body.password is not None else None,
        clear_credentials=body.clear_credentials,
    )
    try:
        return CacheRuleOut.of(rules.update(_actor(caller, request), _prefix(prefix), change))
    except _FAILURES as error:
        raise _problem(error) from None


@router.delete("/cache-rules/{prefix:path}", status_code=204, summary="Delete a cache rule; cached repositories stay")
def delete_cache_rule(prefix: str, caller: CallerDep, request: Request) -> Response:
    try:
        _rules(caller, request).delete(_actor(caller, request), _prefix(prefix))
    except _FAILURES as error:
        raise _problem(error) from None
    return Response(status_code=204)
