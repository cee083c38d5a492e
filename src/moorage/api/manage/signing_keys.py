"""/api/v1/system/signing-keys: list, rotate and retire the keys that sign every token (registry admins).

Retiring is how a leaked key is cut off: a retired key verifies nothing from then on, on every
process and node within a second (auth/keys.py), instead of for the rest of its verification
period after a rotation. Rotations and retirements go to the audit log.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from moorage.api.manage.problems import Problem
from moorage.api.manage.security import Caller, CallerDep
from moorage.auth.keys import KeyRing, SigningKeyInfo, UnknownKey

router = APIRouter(tags=["signing keys"])


class SigningKeyOut(BaseModel):
    kid: str
    algorithm: str
    created_at: datetime
    signs_until: datetime
    verifies_until: datetime
    state: Literal["signing", "verifying", "retired"]

    @classmethod
    def of(cls, key: SigningKeyInfo) -> SigningKeyOut:
        return cls(
            kid=key.kid,
            algorithm=key.algorithm,
            created_at=key.created_at,
            signs_until=key.signs_until,
            verifies_until=key.verifies_until,
            state=key.state,
        )


class RotatedKey(BaseModel):
    kid: str
    """The key that signs from now on."""


def _keys(caller: Caller) -> KeyRing:
    caller.require_server_admin()
    if caller.auth is None:
        raise Problem(409, "Authentication is off", "enable authentication (auth_enabled) to manage signing keys")
    keys: KeyRing = caller.auth.keys
    return keys


def _audit(request: Request, action: str, caller: Caller, kid: str, detail: dict[str, Any]) -> None:
    actor = caller.actor
    if actor.source_address is None and request.client is not None:
        actor = replace(actor, source_address=request.client.host)
    request.app.state.governance.audit.record(action, actor, target=kid, detail=detail)


@router.get("/system/signing-keys", summary="The token signing keys and their states, newest first (registry admins)")
def list_signing_keys(caller: CallerDep) -> list[SigningKeyOut]:
    return [SigningKeyOut.of(key) for key in _keys(caller).list_keys()]


@router.post("/system/signing-keys/rotate", summary="Start signing tokens with a new key (registry admins)")
def rotate_signing_key(caller: CallerDep, request: Request) -> RotatedKey:
    kid = _keys(caller).rotate()
    _audit(request, "signing_key.rotate", caller, kid, {})
    return RotatedKey(kid=kid)


@router.post(
    "/system/signing-keys/{kid}/retire",
    summary="Stop a key verifying any token at once; retiring the signing key first rotates (registry admins)",
)
def retire_signing_key(kid: str, caller: CallerDep, request: Request) -> SigningKeyOut:
    keys = _keys(caller)
    try:
        retired = keys.retire(kid)
    except UnknownKey:
        raise Problem(404, "Not found", f"no signing key {kid}") from None
    _audit(request, "signing_key.retire", caller, kid, {})
    return SigningKeyOut.of(retired)
