"""/api/v1 scan gate policies: per repository and per namespace, and checking an image against one.

- `GET/PUT/DELETE /repositories/{name}/-/scan-gate`: GET shows the policy *in force* (the
  repository's own, else its nearest namespace's, else the registry default) with its source; PUT
  and DELETE set and remove the repository's own.
- `GET/PUT/DELETE /namespaces/{name}/scan-gate`: the namespace's own policy.
- `POST /repositories/{name}/-/scan-gate/check`: judge an image (tag or digest) by the policy in
  force or by one given in the body; what `moorage gate` calls in a pipeline.

Reading a policy or checking an image needs pull (whoever is refused a pull may learn why); setting
or removing one needs admin on the repository (`NAME`) or namespace (`NAME/*`), as tag naming
rules do. Every change is audited (`scan_gate.update`, `scan_gate.delete`) with what it replaced.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response

from moorage.api.manage.governance import REPOSITORY, problems
from moorage.api.manage.problems import Problem
from moorage.api.manage.security import CallerDep, current_actor, on_repository
from moorage.domain.access import Action, Actor
from moorage.scanning.gate import GatePolicy, InvalidGatePolicy
from moorage.scanning.gate_policies import NAMESPACE, PolicyInForce
from moorage.scanning.gate_policies import REPOSITORY as REPOSITORY_SCOPE
from moorage.scanning.gate_service import ScanGate, Verdict

router = APIRouter(tags=["scan gate"])

REPOSITORY_GATE = REPOSITORY + "/-/scan-gate"
NAMESPACE_GATE = "/namespaces/{namespace:path}/scan-gate"

POLICY_EXAMPLE = {
    "max_severity": "HIGH",
    "require_scan": True,
    "allowlist": [{"id": "CVE-2024-12345", "expires": "2027-03-31", "reason": "not reachable: no TLS server"}],
}
PolicyBody = Annotated[dict[str, Any], Body(examples=[POLICY_EXAMPLE])]


def on_namespace_named(action: Action) -> Callable[..., Awaitable[None]]:
    """`security.on_namespace`, for a route whose parameter is `namespace`."""

    async def check(namespace: str, caller: CallerDep) -> None:
        caller.require(f"{namespace}/*", action)

    return check


def scan_gate(request: Request) -> ScanGate:
    found = request.app.state.scan_gate
    assert isinstance(found, ScanGate)
    return found


GateDep = Annotated[ScanGate, Depends(scan_gate)]


def policy_out(found: PolicyInForce) -> dict[str, Any]:
    return {
        "source": found.source,
        "name": found.name,
        "policy": found.policy.to_document(),
        "updated_by": found.updated_by,
        "updated_at": found.updated_at.isoformat() if found.updated_at else None,
    }


def verdict_out(verdict: Verdict) -> dict[str, Any]:
    return {
        "repository": verdict.repository,
        "digest": verdict.digest,
        "policy": policy_out(verdict.policy),
        "message": verdict.message(),
        **verdict.decision.to_document(),
    }


@router.get(REPOSITORY_GATE, summary="The scan gate policy in force for a repository, and where it is set")
def get_repository_gate(name: str, gate: GateDep, _: Annotated[None, Depends(on_repository(Action.PULL))]) -> Any:
    with problems():
        found = gate.policies.in_force(name)
    if found is None:
        raise Problem(404, "No scan gate policy", f"no scan gate policy applies to {name}")
    return policy_out(found)


@router.put(REPOSITORY_GATE, summary="Set a repository's own scan gate policy (replaces its namespace's for it)")
def put_repository_gate(
    name: str,
    body: PolicyBody,
    actor: Annotated[Actor, Depends(current_actor)],
    gate: GateDep,
    _: Annotated[None, Depends(on_repository(Action.ADMIN))],
) -> Any:
    with problems():
        return policy_out(gate.policies.put(actor, REPOSITORY_SCOPE, name, body))


@router.delete(REPOSITORY_GATE, status_code=204, summary="Remove a repository's own scan gate policy")
def delete_repository_gate(
    name: str,
    actor: Annotated[Actor, Depends(current_actor)],
    gate: GateDep,
    _: Annotated[None, Depends(on_repository(Action.ADMIN))],
) -> Response:
    with problems():
        gate.policies.delete(actor, REPOSITORY_SCOPE, name)
    return Response(status_code=204)


@router.post(REPOSITORY_GATE + "/check", summary="Judge an image by the policy in force, or by the one given")
def check_image(
    name: str,
    gate: GateDep,
    _: Annotated[None, Depends(on_repository(Action.PULL))],
    body: Annotated[dict[str, Any], Body(examples=[{"reference": "1.0", "policy": POLICY_EXAMPLE}])],
) -> Any:
    """`reference` is a tag or digest; `policy` (optional) replaces the policy in force for this check only."""
    reference = body.get("reference")
    if not isinstance(reference, str) or not reference or set(body) - {"reference", "policy"}:
        raise Problem(422, "Invalid request", "the body is {'reference': TAG or DIGEST, 'policy': optional policy}")
    policy = None
    if body.get("policy") is not None:
        try:
            policy = GatePolicy.of(body["policy"])
        except InvalidGatePolicy as error:
            raise Problem(422, "Invalid settings", f"scan gate policy: {error}") from None
    with problems():
        return verdict_out(gate.judge_reference(name, reference, policy))


@router.get(NAMESPACE_GATE, summary="A namespace's own scan gate policy")
def get_namespace_gate(
    namespace: str, gate: GateDep, _: Annotated[None, Depends(on_namespace_named(Action.PULL))]
) -> Any:
    with problems():
        return policy_out(gate.policies.get(NAMESPACE, namespace))


@router.put(NAMESPACE_GATE, summary="Set a namespace's scan gate policy (every repository under it without its own)")
def put_namespace_gate(
    namespace: str,
    body: PolicyBody,
    actor: Annotated[Actor, Depends(current_actor)],
    gate: GateDep,
    _: Annotated[None, Depends(on_namespace_named(Action.ADMIN))],
) -> Any:
    with problems():
        return policy_out(gate.policies.put(actor, NAMESPACE, namespace, body))


@router.delete(NAMESPACE_GATE, status_code=204, summary="Remove a namespace's scan gate policy")
def delete_namespace_gate(
    namespace: str,
    actor: Annotated[Actor, Depends(current_actor)],
    gate: GateDep,
    _: Annotated[None, Depends(on_namespace_named(Action.ADMIN))],
) -> Response:
    with problems():
        gate.policies.delete(actor, NAMESPACE, namespace)
    return Response(status_code=204)
