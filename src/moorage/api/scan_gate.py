"""The pull gate at the registry: a manifest GET of an image the scan gate refuses gets `DENIED`.

The v2 manifest handler calls `admit` after reading the manifest it is about to serve (by tag or by
digest), so what is judged is exactly the digest served, not what a tag pointed to a moment earlier.

- **HEAD is not gated.** It serves no content, only the digest and size, which clients (containerd,
  the admission webhook, `skopeo inspect --raw` after it) use to resolve a tag; and a HEAD response
  has no body, so a refusal there would reach the user as a bare `403` instead of the reason. The
  GET that fetches the manifest is refused with the reason in its OCI error body, which skopeo,
  podman and docker print.
- **Who passes.** Actors of kind `system` (the registry's own background work, should it read
  through HTTP; the scanner reads through the services and never meets this gate). Administrators of
  the repository (the `admin` action, from the credential's own rights: a pull-only token of an
  admin has no `admin`, so a leaked one is gated) get the image, and the bypass is audited. Without
  authentication there are no administrators: the gate applies to every pull.
- **Cost.** With no policy in force for the repository, `admit` is one lookup in an in-memory table
  (refreshed every `scan_gate_cache_seconds`); with one, one indexed read of the scan report's
  revision (the report itself is cached by revision), made inline on SQLite like the manifest read
  (`quick_read`) and in a worker thread on PostgreSQL. Refusals and bypasses, rare, go to a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
from starlette.requests import Request

from moorage.api.v2.context import actor_of
from moorage.auth.grants import Principal, allowed_actions
from moorage.auth.roles import StoredRoles
from moorage.domain.access import Action
from moorage.domain.errors import ErrorCode, RegistryError
from moorage.scanning.gate_audit import GateAudit
from moorage.scanning.gate_service import ScanGate, Verdict

SYSTEM = "system"
P = ParamSpec("P")
T = TypeVar("T")


def refusal_detail(verdict: Verdict) -> dict[str, Any]:
    """The machine-readable part of a refusal (the OCI error's `detail`)."""
    decision = verdict.decision
    return {
        "policy": verdict.policy.label,
        "status": decision.status.value if decision.status else None,
        "blocking": {severity.value: count for severity, count in decision.blocking.items()},
        "vulnerabilities": list(decision.blocked_ids[:20]),
    }


class PullGate:
    def __init__(self, gate: ScanGate, audit: GateAudit, roles: StoredRoles | None, local_reads: bool) -> None:
        self.gate = gate
        self.audit = audit
        self.roles = roles
        self.local_reads = local_reads

    async def admit(self, request: Request, repository: str, digest: str, media_type: str, payload: bytes) -> None:
        """Return when the manifest may be served; raise `DENIED` naming the policy and counts when not."""
        cached, policy = self.gate.applies_to_if_cached(repository)
        if not cached:
            policy = await self._read(self.gate.applies_to, repository)
        if policy is None:
            return
        judge = self.gate.judge
        verdict = await self._read(lambda: judge(repository, digest, media_type, payload, policy))
        if verdict is None or verdict.allowed:
            return
        actor = actor_of(request)
        if actor.kind == SYSTEM:
            return
        principal = request.scope.get("moorage.principal")
        detail = {"policy": verdict.policy.label, "reason": verdict.decision.reason}
        if await anyio.to_thread.run_sync(self._is_admin, principal, repository):
            await anyio.to_thread.run_sync(self.audit.record, "scan_gate.bypass", actor, repository, digest, detail)
            return
        await anyio.to_thread.run_sync(self.audit.record, "scan_gate.refuse", actor, repository, digest, detail)
        raise RegistryError(ErrorCode.DENIED, verdict.message(), detail=refusal_detail(verdict))

    async def _read(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Indexed reads (the policy table, a scan report) inline on SQLite, in a thread otherwise (as `quick_read`)."""
        if self.local_reads:
            return function(*args, **kwargs)
        return await anyio.to_thread.run_sync(lambda: function(*args, **kwargs))

    def _is_admin(self, principal: object, repository: str) -> bool:
        if self.roles is None or not isinstance(principal, Principal):
            return False
        return Action.ADMIN in allowed_actions(principal, repository, self.roles)
