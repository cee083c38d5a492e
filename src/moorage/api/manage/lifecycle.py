"""Lifecycle policies over the management API: store, preview (like ECR's policy preview), apply, runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi import Path as FastAPIPath

from moorage.api.manage.policy_problems import invalid_policy
from moorage.api.manage.problems import Problem
from moorage.api.manage.security import current_actor, on_namespace, on_repository, registry_admin
from moorage.domain.access import Action, Actor
from moorage.domain.errors import RegistryError
from moorage.lifecycle.evaluation import Decision
from moorage.lifecycle.in_force import NAMESPACE, REPOSITORY
from moorage.lifecycle.policy import PolicyError
from moorage.lifecycle.service import LifecycleBusy, LifecycleService, NoPolicy, UnknownRepository

router = APIRouter(tags=["lifecycle"])
T = TypeVar("T")

POLICY_EXAMPLE = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "Keep only one untagged image",
            "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
            "action": {"type": "expire"},
        }
    ]
}


def _service(request: Request) -> LifecycleService:
    service: LifecycleService = request.app.state.lifecycle
    return service


@contextmanager
def _problems() -> Iterator[None]:
    """Turn the service's refusals into problem details."""
    try:
        yield
    except PolicyError as error:
        raise invalid_policy(error) from None
    except RegistryError as error:
        raise Problem(400, "Invalid name", error.message) from None
    except NoPolicy as error:
        raise Problem(404, "No lifecycle policy", str(error)) from None
    except UnknownRepository as error:
        raise Problem(404, "Unknown repository", f"repository {error} does not exist") from None
    except LifecycleBusy as error:
        raise Problem(409, "Lifecycle run in progress", str(error)) from None


def _call(function: Callable[[], T]) -> T:
    with _problems():
        return function()


def _policy_routes(scope: str, prefix: str) -> None:
    on_target = on_repository if scope == REPOSITORY else on_namespace
    reader, admin = [Depends(on_target(Action.PULL))], [Depends(on_target(Action.ADMIN))]

    @router.get(
        f"{prefix}/{{name:path}}/lifecycle-policy",
        summary=f"The lifecycle policy in force for the {scope}, and where it is set",
        dependencies=reader,
    )
    def get_policy(name: str, request: Request) -> dict[str, Any]:
        """The policy runs use: `source` is `repository` (its own) or `namespace` (`namespace` names which)."""
        found = _call(lambda: _service(request).policy_in_force(scope, name))
        if found is None:
            raise Problem(404, "No lifecycle policy", f"{scope} {name!r} has no lifecycle policy")
        return {
            "name": name,
            "scope": scope,
            "source": found.source,
            "namespace": found.namespace,
            "policy": found.document,
        }

    @router.put(
        f"{prefix}/{{name:path}}/lifecycle-policy",
        summary=f"Set the {scope}'s lifecycle policy (ECR JSON)",
        dependencies=admin,
    )
    def put_policy(
        name: str,
        request: Request,
        document: Annotated[dict[str, Any], Body(examples=[POLICY_EXAMPLE])],
        actor: Annotated[Actor, Depends(current_actor)],
    ) -> dict[str, Any]:
        return _call(lambda: _service(request).put_policy(scope, name, document, actor))

    @router.delete(
        f"{prefix}/{{name:path}}/lifecycle-policy",
        status_code=204,
        summary=f"Remove the {scope}'s policy",
        dependencies=admin,
    )
    def delete_policy(name: str, request: Request, actor: Annotated[Actor, Depends(current_actor)]) -> Response:
        if not _call(lambda: _service(request).delete_policy(scope, name, actor)):
            raise Problem(404, "No lifecycle policy", f"{scope} {name!r} has no lifecycle policy")
        return Response(status_code=204)

    get_policy.__name__ = f"get_{scope}_lifecycle_policy"
    put_policy.__name__ = f"put_{scope}_lifecycle_policy"
    delete_policy.__name__ = f"delete_{scope}_lifecycle_policy"


_policy_routes(REPOSITORY, "/repositories")
_policy_routes(NAMESPACE, "/namespaces")


@router.post(
    "/repositories/{name:path}/lifecycle-preview",
    summary="What a lifecycle policy would expire, and why",
    dependencies=[Depends(on_repository(Action.PULL))],
)
def preview(
    name: str,
    request: Request,
    document: Annotated[dict[str, Any] | None, Body(examples=[POLICY_EXAMPLE])] = None,
    as_of: Annotated[
        datetime | None, Query(description="Evaluate as if it were this time (RFC 3339; no zone: UTC).")
    ] = None,
) -> dict[str, Any]:
    """Evaluate the given policy (or the repository's effective one) without changing anything."""
    moment = None if as_of is None else as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of
    try:
        result = _call(lambda: _service(request).preview(name, document, moment))
    except OverflowError:  # a rule's days counted back from a moment near datetime's limits
        raise Problem(422, "Invalid request", "as_of is out of range") from None
    decisions = [_decision(decision) for decision in result.evaluation.decisions]
    return {
        "repository": result.repository,
        "policySource": result.policy_source,
        "policy": result.policy,
        "asOf": result.as_of.isoformat(),
        "summary": {
            "images": len(decisions),
            "expiring": sum(1 for d in decisions if d["action"] == "expire"),
            "bytesExpiring": sum(d["size"] for d in decisions if d["action"] == "expire"),
        },
        "results": decisions,
    }


@router.post(
    "/lifecycle/runs",
    summary="Apply every lifecycle policy now (the scheduled run, on demand)",
    dependencies=[Depends(registry_admin)],
)
def apply_now(request: Request, actor: Annotated[Actor, Depends(current_actor)]) -> dict[str, Any]:
    """The run records that a person started it, and who (`trigger` `manual`, `started_by`)."""
    return _call(lambda: _service(request).apply_all(started_by=actor.describe()))


@router.post(
    "/repositories/{name:path}/lifecycle-apply",
    summary="Apply the repository's lifecycle policy now, to that repository only (a recorded run)",
    dependencies=[Depends(on_repository(Action.ADMIN))],
)
def apply_repository(name: str, request: Request, actor: Annotated[Actor, Depends(current_actor)]) -> dict[str, Any]:
    """404 when the repository or its policy is missing; 400 when the policy in force is invalid."""
    return _call(lambda: _service(request).apply_all(started_by=actor.describe(), repository=name))


@router.get(
    "/lifecycle/runs",
    summary="Recent lifecycle runs: what expired, by which rule, bytes freed",
    dependencies=[Depends(registry_admin)],
)
def list_runs(request: Request, limit: int = 20) -> list[dict[str, Any]]:
    return _service(request).runs(max(1, min(limit, 200)))


@router.get("/lifecycle/runs/{run_id}", summary="One lifecycle run", dependencies=[Depends(registry_admin)])
def get_run(
    run_id: Annotated[int, FastAPIPath(ge=1, le=2**31 - 1, description="A run's id.")], request: Request
) -> dict[str, Any]:
    run = _service(request).run(run_id)
    if run is None:
        raise Problem(404, "Unknown run", f"no lifecycle run {run_id}")
    return run


def _decision(decision: Decision) -> dict[str, Any]:
    return {
        "imageDigest": decision.digest,
        "imageTags": list(decision.tags),
        "imagePushedAt": decision.pushed_at.isoformat() if decision.pushed_at else None,
        "lastRecordedPullTime": decision.last_pulled_at.isoformat() if decision.last_pulled_at else None,
        "action": "expire" if decision.expired else "keep",
        "appliedRulePriority": decision.rule_priority,
        "reason": decision.reason,
        "follows": decision.follows,
        "size": decision.size,
    }
