"""Scan gate policies in force: stored per repository and per namespace, read on every pull from a cache.

Which policy governs a repository: its own, else its nearest namespace's (`team/app` before `team`
for `team/app/api`), else the registry default from the settings (`scan_gate_max_severity`,
`scan_gate_require_scan`), else none. One policy applies, whole: a repository's policy replaces its
namespace's (allowlist included) rather than adding to it, so what a policy shows is what is enforced.

Pulls must not pay for this: the whole table (one row per governed repository or namespace) is
read once and kept for `cache_seconds`; a change made through this process is seen at once, one
made on another node or process within `cache_seconds`. A policy outlives its repository: deleting
and re-creating a repository does not lift its gate.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from moorage.domain.access import Action, Actor
from moorage.governance.audit import AuditLog, utc
from moorage.governance.errors import GovernanceError, InvalidSettings
from moorage.governance.repositories import checked_name
from moorage.governance.tag_naming import checked_namespace
from moorage.governance.tag_rules import namespaces_of
from moorage.metadata import scan_gates
from moorage.metadata.database import Database
from moorage.scanning.gate import GatePolicy, InvalidGatePolicy

Scope = Literal["repository", "namespace"]
REPOSITORY: Scope = "repository"
NAMESPACE: Scope = "namespace"


class NoGatePolicy(GovernanceError):
    status = 404
    title = "No scan gate policy"


@dataclass(frozen=True)
class PolicyInForce:
    """A policy and where it is set: `repository` / `namespace` (with its name), `registry` (the default),
    `request` (given for one check) or `none` (no policy applies: an empty one that passes everything)."""

    source: Literal["repository", "namespace", "registry", "request", "none"]
    name: str | None
    policy: GatePolicy
    updated_by: str | None = None
    updated_at: datetime | None = None

    @property
    def label(self) -> str:
        """How refusals name it: `repository policy of team/app`, `namespace policy of team`, or the default's."""
        if self.source == "registry":
            return "registry default policy"
        if self.source == "request":
            return "policy given in the request"
        if self.source == "none":
            return "no policy in force"
        return f"{self.source} policy of {self.name}"


class GatePolicies:
    def __init__(
        self, database: Database, audit: AuditLog, default: GatePolicy | None = None, cache_seconds: float = 5.0
    ) -> None:
        self.database = database
        self.audit = audit
        self.default = default
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._index: dict[tuple[str, str], PolicyInForce] | None = None
        self._loaded_at = 0.0

    # -- reading (every pull) ---------------------------------------------------------------------

    def in_force(self, repository: str) -> PolicyInForce | None:
        """The policy governing pulls of `repository` (see the module docstring); from the cache."""
        return self._in_force(self._cached_index(), repository)

    def in_force_if_cached(self, repository: str) -> tuple[bool, PolicyInForce | None]:
        """(True, `in_force(repository)`) when the cache is fresh; (False, None) when answering needs
        the database, so a caller on the event loop can read it in a thread instead."""
        index = self._fresh_index()
        if index is None:
            return False, None
        return True, self._in_force(index, repository)

    def _in_force(self, index: dict[tuple[str, str], PolicyInForce], repository: str) -> PolicyInForce | None:
        if not index:  # no policy stored: the common case costs one check per pull
            return None if self.default is None else PolicyInForce("registry", None, self.default)
        own = index.get((REPOSITORY, repository))
        if own is not None:
            return own
        for namespace in reversed(namespaces_of(repository)):
            found = index.get((NAMESPACE, namespace))
            if found is not None:
                return found
        if self.default is not None:
            return PolicyInForce("registry", None, self.default)
        return None

    def _fresh_index(self) -> dict[tuple[str, str], PolicyInForce] | None:
        """The policies read less than `cache_seconds` ago, or None."""
        index = self._index
        return index if index is not None and time.monotonic() - self._loaded_at < self.cache_seconds else None

    def _cached_index(self) -> dict[tuple[str, str], PolicyInForce]:
        index = self._fresh_index()
        if index is not None:
            return index
        with self._lock:
            index = self._fresh_index()
            if index is not None:
                return index
            with self.database.read() as connection:
                rows = scan_gates.all_policies(connection)
            loaded: dict[tuple[str, str], PolicyInForce] = {}
            for row in rows:
                try:
                    policy = GatePolicy.of(row.policy)
                except InvalidGatePolicy:
                    # Stored rows were checked when written; a row changed by hand must not open the gate.
                    policy = GatePolicy(require_scan=True)
                source: Scope = REPOSITORY if row.scope == REPOSITORY else NAMESPACE
                at = utc(row.updated_at)
                loaded[(row.scope, row.name)] = PolicyInForce(source, row.name, policy, row.updated_by, at)
            self._index, self._loaded_at = loaded, time.monotonic()
            return loaded

    def forget(self) -> None:
        """Drop the cache: the next pull reads the table again (after a change made here)."""
        with self._lock:
            self._index = None

    # -- managing (the API) -----------------------------------------------------------------------

    def get(self, scope: Scope, name: str) -> PolicyInForce:
        """The policy set on this repository or namespace itself (not one inherited), or NoGatePolicy."""
        _checked(scope, name)
        with self.database.read() as connection:
            row = scan_gates.find(connection, scope, name)
        if row is None:
            raise NoGatePolicy(f"{scope} {name!r} has no scan gate policy of its own")
        return PolicyInForce(scope, name, GatePolicy.of(row.policy), row.updated_by, utc(row.updated_at))

    def put(self, actor: Actor, scope: Scope, name: str, document: dict[str, Any]) -> PolicyInForce:
        """Set (replace) the policy of a repository or namespace; audited with what it replaced."""
        target = _checked(scope, name)
        self.audit.require(actor, target, Action.ADMIN, "scan_gate.update")
        try:
            policy = GatePolicy.of(document).to_document()
        except InvalidGatePolicy as error:
            raise InvalidSettings(f"scan gate policy: {error}") from None
        with self.database.write() as connection:
            before = scan_gates.find(connection, scope, name)
            scan_gates.put(connection, scope, name, policy, actor.describe())
            detail = {"scope": scope, "before": before.policy if before else None, "after": policy}
            repository = name if scope == REPOSITORY else None
            self.audit.record("scan_gate.update", actor, repository, target, detail=detail, connection=connection)
        self.forget()
        return self.get(scope, name)

    def delete(self, actor: Actor, scope: Scope, name: str) -> None:
        target = _checked(scope, name)
        self.audit.require(actor, target, Action.ADMIN, "scan_gate.delete")
        with self.database.write() as connection:
            before = scan_gates.find(connection, scope, name)
            if before is None or not scan_gates.delete(connection, scope, name):
                raise NoGatePolicy(f"{scope} {name!r} has no scan gate policy of its own")
            detail = {"scope": scope, "before": before.policy}
            repository = name if scope == REPOSITORY else None
            self.audit.record("scan_gate.delete", actor, repository, target, detail=detail, connection=connection)
        self.forget()


def _checked(scope: Scope, name: str) -> str:
    """The name checked, and the resource pattern rights are asked for (`team/app` or `team/*`)."""
    if scope == REPOSITORY:
        return checked_name(name)
    return f"{checked_namespace(name)}/*"
